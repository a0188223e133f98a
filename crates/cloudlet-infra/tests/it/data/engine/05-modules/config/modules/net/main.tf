variable "name" {
  type = string
}

variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "subnet_count" {
  type    = number
  default = 2
}

resource "terraform_data" "vpc" {
  input = {
    name = var.name
    cidr = var.cidr
  }
}

resource "terraform_data" "subnet" {
  count = var.subnet_count
  input = {
    vpc  = terraform_data.vpc.output.name
    cidr = cidrsubnet(var.cidr, 8, count.index)
  }
}

output "vpc_name" {
  value = terraform_data.vpc.output.name
}

output "subnet_cidrs" {
  value = terraform_data.subnet[*].output.cidr
}
