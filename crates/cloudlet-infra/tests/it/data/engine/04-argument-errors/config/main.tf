resource "null_resource" "a" {
  triggers = {
    x = "y"
  }
  bogus = 1
}

resource "local_file" "f" {
  content = "no filename"
}

resource "random_integer" "i" {
  min = 1
  max = "lots"
}

resource "terraform_data" "d" {
  id = "fixed"
}
