locals {
  envs     = { dev = "10.1.0.0/16", prod = "10.2.0.0/16" }
  defaults = { owner = "platform", tier = "web" }
  tags     = merge(local.defaults, { tier = "api" })
  first    = slice(["a", "b", "c"], 0, 2)
  size     = terraform.workspace == "prod" ? 3 : 1
}

module "net" {
  for_each     = local.envs
  source       = "./modules/net"
  name         = each.key
  cidr         = each.value
  subnet_count = local.size
}

resource "null_resource" "per_letter" {
  count = length(local.first)
  triggers = {
    letter = local.first[count.index]
    vpc    = module.net["dev"].vpc_name
    owner  = local.tags.owner
  }
}

output "subnets" {
  value = { for k, m in module.net : k => m.subnet_cidrs }
}

output "tags" {
  value = local.tags
}
