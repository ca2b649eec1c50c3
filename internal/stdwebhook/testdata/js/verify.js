// Reads deliveries as JSON from stdin: [{"secret", "headers", "body"}, …]
// (body as a string) and verifies each with the Standard Webhooks
// reference library. Prints "verified N" and exits 0, or names the first
// delivery that fails and exits 1.
const { Webhook } = require("standardwebhooks");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const ds = JSON.parse(input);
  ds.forEach((d, i) => {
    try {
      new Webhook(d.secret).verify(d.body, d.headers);
    } catch (e) {
      console.error(`delivery ${i}: ${e.message}`);
      process.exit(1);
    }
  });
  console.log(`verified ${ds.length}`);
});
