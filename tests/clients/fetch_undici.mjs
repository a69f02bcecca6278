// GET argv[2] with undici's fetch through the proxy the environment names (HTTPS_PROXY and friends);
// Node.js trusts NODE_EXTRA_CA_CERTS. Prints the status, then the body.
import { fetch, EnvHttpProxyAgent, setGlobalDispatcher } from "undici";

setGlobalDispatcher(new EnvHttpProxyAgent());
const resp = await fetch(process.argv[2]);
console.log(resp.status);
console.log(await resp.text());
