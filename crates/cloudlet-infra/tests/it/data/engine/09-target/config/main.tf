resource "terraform_data" "picked" {
  input = "a"
}

resource "terraform_data" "left" {
  input = "b"
}

output "picked" {
  value = terraform_data.picked.output
}
