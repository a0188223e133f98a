from_tfvars = [1, 2, 3]
overridden  = "tfvars"
