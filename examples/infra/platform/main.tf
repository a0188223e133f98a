# One platform per workspace (dev, staging, prod): the network and the
# services are sized by the workspace.

locals {
  sizes = {
    default = { subnets = 1, replicas = 1 }
    dev     = { subnets = 1, replicas = 1 }
    staging = { subnets = 2, replicas = 2 }
    prod    = { subnets = 3, replicas = 3 }
  }
  size = lookup(local.sizes, terraform.workspace, local.sizes["default"])

  common_tags = { project = "cloudlet", managed_by = "cloudlet" }
  tags        = merge(local.common_tags, { environment = terraform.workspace })

  all_zones = ["a", "b", "c", "d"]
  zones     = slice(local.all_zones, 0, local.size.replicas)

  is_prod  = terraform.workspace == "prod"
  api_name = local.is_prod ? "api" : "api-${terraform.workspace}"
}

module "network" {
  source       = "./modules/vpc"
  name         = "net-${terraform.workspace}"
  cidr         = local.is_prod ? "10.10.0.0/16" : "10.20.0.0/16"
  subnet_count = local.size.subnets
  tags         = local.tags
}

module "service" {
  for_each  = toset([local.api_name, "worker"])
  source    = "./modules/service"
  name      = each.key
  network   = { name = module.network.name, subnet_cidrs = module.network.subnet_cidrs }
  instances = toset(local.zones)
}

resource "random_string" "db" {
  length  = 20
  special = false
}

output "network" {
  value = module.network.name
}

output "subnets" {
  value = module.network.subnet_cidrs
}

output "instances" {
  value = { for name, s in module.service : name => s.instance_names }
}

output "db_password" {
  value     = random_string.db.result
  sensitive = true
}
