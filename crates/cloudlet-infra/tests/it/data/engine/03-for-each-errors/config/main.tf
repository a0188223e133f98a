variable "names" {
  default = ["a", "b"]
}

resource "null_resource" "list" {
  for_each = var.names
}

resource "null_resource" "counted" {
  count = -1
}

resource "terraform_data" "unknown_keys" {
  for_each = { for k in ["x"] : terraform_data.seed.id => k }
}

resource "terraform_data" "seed" {}
