const fs = require("fs");
fs.appendFileSync(process.env.GITHUB_OUTPUT, `v=${process.env["INPUT_MY_NAME"]}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `saved=from-main\n`);
