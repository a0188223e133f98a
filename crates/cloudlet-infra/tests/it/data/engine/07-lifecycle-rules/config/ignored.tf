resource "terraform_data" "ignored" {
  input = "rev-${var.rev}"
  lifecycle {
    ignore_changes = [input]
  }
}

