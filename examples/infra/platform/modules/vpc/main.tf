# A vpc-like network: one object for the network and one per subnet,
# carved out of the CIDR block with cidrsubnet.

variable "name" {
  type        = string
  description = "Name of the network."
}

variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "subnet_count" {
  type    = number
  default = 2

  validation {
    condition     = var.subnet_count > 0 && var.subnet_count <= 8
    error_message = "A network has between 1 and 8 subnets."
  }
}

variable "tags" {
  type    = map(string)
  default = {}
}

resource "terraform_data" "vpc" {
  input = {
    name = var.name
    cidr = var.cidr
    tags = var.tags
  }
}

resource "terraform_data" "subnet" {
  count = var.subnet_count
  input = {
    vpc  = terraform_data.vpc.output.name
    name = "${var.name}-${count.index}"
    cidr = cidrsubnet(var.cidr, 8, count.index)
  }
}

output "id" {
  value = terraform_data.vpc.id
}

output "name" {
  value = terraform_data.vpc.output.name
}

output "subnet_cidrs" {
  value = terraform_data.subnet[*].output.cidr
}
