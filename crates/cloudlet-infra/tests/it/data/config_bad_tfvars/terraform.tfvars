# A comment line.
port = "abc"
