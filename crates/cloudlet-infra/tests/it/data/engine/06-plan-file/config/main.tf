variable "v" {
  default = "one"
}

resource "terraform_data" "x" {
  input = var.v
}
