# A service placed in a network: named instances (for_each) spread over
# the network's subnets, and its rendered configuration file.

variable "name" {
  type = string
}

variable "network" {
  type = object({
    name         = string
    subnet_cidrs = list(string)
  })
}

variable "instances" {
  type = set(string)
}

resource "random_pet" "suffix" {
  keepers = {
    network = var.network.name
  }
}

resource "terraform_data" "instance" {
  for_each = var.instances
  input = {
    name   = "${var.name}-${each.key}-${random_pet.suffix.id}"
    subnet = element(var.network.subnet_cidrs, index(sort(tolist(var.instances)), each.key))
  }
}

resource "local_file" "config" {
  filename        = "${path.root}/out/${var.name}.conf"
  file_permission = "0644"
  content = templatefile("${path.module}/service.conf.tftpl", {
    name      = var.name
    network   = var.network.name
    instances = [for i in terraform_data.instance : i.output.name]
  })
}

output "instance_names" {
  value = sort([for i in terraform_data.instance : i.output.name])
}
