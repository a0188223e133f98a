console.log(`post saw ${process.env.STATE_saved} for ${process.env["INPUT_MY_NAME"]}`);
