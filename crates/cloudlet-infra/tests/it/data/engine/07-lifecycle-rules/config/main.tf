variable "rev" {
  default = "1"
}

resource "terraform_data" "trigger" {
  input = var.rev
}

resource "null_resource" "cbd" {
  triggers = {
    rev = var.rev
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "terraform_data" "follower" {
  lifecycle {
    replace_triggered_by = [terraform_data.trigger]
  }
}

resource "terraform_data" "kept" {
  input = "precious"
  lifecycle {
    prevent_destroy = true
  }
}
