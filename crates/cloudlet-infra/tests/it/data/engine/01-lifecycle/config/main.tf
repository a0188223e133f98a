variable "greeting" {
  default = "hello"
}

resource "null_resource" "a" {
  triggers = {
    g = var.greeting
  }
}

resource "terraform_data" "d" {
  input = {
    name = "x"
    list = [1, 2]
  }
}

resource "local_file" "f" {
  filename = "out.txt"
  content  = "${var.greeting} world"
}

resource "random_password" "p" {
  length = 12
}

output "id" {
  value = null_resource.a.id
}

output "secret" {
  value     = random_password.p.result
  sensitive = true
}
