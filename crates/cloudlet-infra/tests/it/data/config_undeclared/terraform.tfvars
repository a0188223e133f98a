declared = "from tfvars"
nosuch = 1
