// The customer portal: everything is read from the chain and every action is a transaction the customer's
// own EIP-1193 wallet signs. The page holds no key and trusts no server for numbers: the local server only
// hands it the deployment record, the ABI and the published statement files, and statement lines are checked
// against the root committed on chain.
import {
  AbiCoder,
  BrowserProvider,
  Contract,
  Interface,
  Signature,
  TypedDataEncoder,
  concat,
  getAddress,
  keccak256,
} from "ethers";
import { STATES, explainFailure } from "./errors.js";
import { formatAmount, formatDate, formatDuration, parseAmount, shortHex } from "./format.js";

const TOKEN_ABI = [
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount) returns (bool)",
  "function decimals() view returns (uint8)",
  "function symbol() view returns (string)",
  "function name() view returns (string)",
  "function nonces(address owner) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function version() view returns (string)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error ERC2612ExpiredSignature(uint256 deadline)",
  "error ERC2612InvalidSigner(address signer, address owner)",
];
const DAY = 86400;
const DISPUTE_USAGE = 1;
const CHARGE_STATUS = { 1: "charged", 2: "disputed, awaiting the arbiter", 3: "refunded", 4: "upheld" };
const DISPUTE_STATUS = { 1: "disputed, awaiting the arbiter", 2: "refunded", 3: "upheld" };
const LOG_SPAN = 50_000; // blocks per eth_getLogs request
const FOLLOW_SECONDS = 4; // how often the page looks for a new block
const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

const $ = (id) => document.getElementById(id);
const app = {
  config: null,
  ethereum: null,
  provider: null,
  account: null,
  billing: null,
  token: null,
  decimals: 6,
  symbol: "",
  catalogue: null,
  permit: null, // the token's EIP-712 domain when deposits can use a permit
  chainTime: 0,
  statements: [],
  statement: null,
  busy: false,
  refreshing: false,
  follower: null,
  viewBlock: null,
  usageNames: new Map(), // dispute key -> the usage line it names, for the disputes table
};

// ----- small DOM helpers (text only: nothing read from the chain or a file is ever parsed as HTML) ------------

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    if (cell instanceof Node) {
      const td = document.createElement("td");
      td.append(cell);
      tr.append(td);
    } else if (cell && typeof cell === "object") {
      tr.append(el("td", cell.text, cell.attrs ?? {}));
    } else {
      tr.append(el("td", cell));
    }
  }
  return tr;
}

function options(select, items, keep = true) {
  const previous = select.value;
  select.replaceChildren(...items.map(([value, label]) => el("option", label, { value: String(value) })));
  if (keep && items.some(([v]) => String(v) === previous)) select.value = previous;
  select.disabled = items.length === 0;
}

function say(text) {
  $("status").textContent = text;
}

function fail(text) {
  $("error").textContent = text;
}

const fmt = {
  amount: (v) => formatAmount(BigInt(v), app.decimals, app.symbol),
  date: (v) => formatDate(v),
  plan: (id) => planName(Number(id)),
};

function planName(id) {
  return app.catalogue?.plans.get(id)?.name ?? `plan #${id}`;
}

function interfaces() {
  return [app.billing.interface, app.token.interface];
}

// ----- start-up and connection ---------------------------------------------------------------------------------

async function start() {
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (!res.ok) throw new Error((await res.json()).error ?? res.statusText);
    app.config = await res.json();
  } catch (err) {
    $("network-state").textContent = `The portal could not load its deployment record: ${err.message}`;
    return;
  }
  renderContracts();
  app.ethereum = window.ethereum;
  if (!app.ethereum) {
    $("wallet-missing").hidden = false;
    $("network-state").textContent = "Connect a wallet to see your account.";
    return;
  }
  app.ethereum.on?.("accountsChanged", () => app.account && connect());
  app.ethereum.on?.("chainChanged", () => app.account && connect());
  $("connect").disabled = false;
  $("connect").addEventListener("click", connect);
  $("switch-network").addEventListener("click", switchNetwork);
  wireForms();
  $("network-state").textContent = "Connect your wallet to see your account.";
}

function renderContracts() {
  const dep = app.config.deployment;
  const facts = [
    ["Network", `${dep.network ?? "?"} (chain id ${dep.chain_id})`],
    ["Billing contract", dep.billing],
    ["Token", `${dep.token}${dep.token_symbol ? ` (${dep.token_symbol})` : ""}`],
    ...Object.entries(dep.modules ?? {}).map(([name, address]) => [`${name[0].toUpperCase()}${name.slice(1)} module`, address]),
  ];
  $("contracts").replaceChildren(
    ...facts.flatMap(([k, v]) => [el("dt", k), el("dd", v, { class: k === "Network" ? "" : "mono" })]),
  );
}

async function connect() {
  fail("");
  try {
    const accounts = await app.ethereum.request({ method: "eth_requestAccounts" });
    if (!accounts?.length) throw Object.assign(new Error("no account"), { code: 4100 });
    const chainId = Number(await app.ethereum.request({ method: "eth_chainId" }));
    const wanted = Number(app.config.deployment.chain_id);
    if (chainId !== wanted) {
      $("network-state").textContent =
        `Your wallet is on chain ${chainId}; this portal's contracts are on chain ${wanted}. Switch networks to continue.`;
      $("switch-network").hidden = false;
      for (const id of ["account", "actions", "statements"]) $(id).hidden = true;
      return;
    }
    $("switch-network").hidden = true;
    // No request cache: a refresh right after a transaction must see the block that holds it.
    app.provider = new BrowserProvider(app.ethereum, chainId, { pollingInterval: 1000, staticNetwork: true, cacheTimeout: -1 });
    const signer = await app.provider.getSigner(accounts[0]);
    app.account = getAddress(accounts[0]);
    app.billing = new Contract(app.config.deployment.billing, app.config.abi, signer);
    app.token = new Contract(app.config.deployment.token, TOKEN_ABI, signer);
    const code = await app.provider.getCode(app.config.deployment.billing);
    if (code === "0x") {
      $("network-state").textContent =
        `No billing contract at ${app.config.deployment.billing} on chain ${chainId}: is the deployment record for this chain?`;
      return;
    }
    [app.decimals, app.symbol] = await Promise.all([
      app.token.decimals().then(Number),
      app.token.symbol().catch(() => app.config.deployment.token_symbol ?? ""),
    ]);
    $("network-state").textContent = `Connected to chain ${chainId} as ${app.account}.`;
    $("connect").textContent = "Connected";
    app.catalogue = await loadCatalogue();
    app.permit = await permitDomain();
    $("deposit-hint").textContent = app.permit
      ? "One signature and one transaction (the token supports permit)."
      : "Two transactions: an approval, then the deposit (the token has no permit).";
    await refresh();
    for (const id of ["account", "actions", "statements"]) $(id).hidden = false;
    follow();
  } catch (err) {
    fail(explainFailure(err, app.billing ? interfaces() : [], fmt));
  }
}

async function switchNetwork() {
  try {
    await app.ethereum.request({
      method: "wallet_switchEthereumChain",
      params: [{ chainId: `0x${Number(app.config.deployment.chain_id).toString(16)}` }],
    });
    await connect();
  } catch (err) {
    fail(explainFailure(err, [], fmt));
  }
}

// ----- the catalogue: plans, events, titles, meters (names come from the events that created them) ----------

/** An event's logs since `from` (default: the deployment block), filtered by its indexed arguments. */
async function logs(event, args = [], from = 0) {
  const head = await app.provider.getBlockNumber();
  const first = Math.max(Number(app.config.deployment.block ?? 0), from);
  const out = [];
  for (let start = first; start <= head; start += LOG_SPAN) {
    const end = Math.min(head, start + LOG_SPAN - 1);
    out.push(...(await app.billing.queryFilter(app.billing.filters[event](...args), start, end)));
  }
  return out;
}

/** The last block at or before `timestamp` (binary search on block times; never before the deployment). */
async function blockAt(timestamp) {
  let lo = Number(app.config.deployment.block ?? 0);
  let hi = await app.provider.getBlockNumber();
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    const block = await app.provider.getBlock(mid);
    if (Number(block.timestamp) <= timestamp) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

async function loadCatalogue() {
  const b = app.billing;
  const [planCount, ppvCount, titleCount, meterCount] = (
    await Promise.all([b.planCount(), b.ppvEventCount(), b.vodTitleCount(), b.meterCount()])
  ).map(Number);
  const [planLogs, ppvLogs, titleLogs, meterLogs] = await Promise.all([
    logs("PlanAdded"),
    logs("PpvEventAdded"),
    logs("VodTitleAdded"),
    logs("MeterAdded"),
  ]);
  const nameOf = (list, key) => new Map(list.map((e) => [Number(e.args[key]), e.args.name]));
  const planNames = nameOf(planLogs, "planId");
  const ppvNames = nameOf(ppvLogs, "eventId");
  const titleNames = nameOf(titleLogs, "titleId");
  const meterNames = nameOf(meterLogs, "meterId");
  const units = Object.fromEntries(
    Object.entries(app.config.deployment.meters ?? {}).map(([key, id]) => [id, app.config.deployment.meter_units?.[key]]),
  );
  const range = (n) => Array.from({ length: n }, (_, i) => i + 1);
  const plans = new Map();
  for (const id of range(planCount)) {
    const p = await b.planOf(id);
    plans.set(id, {
      id,
      name: planNames.get(id) ?? `plan #${id}`,
      price: p.price,
      period: Number(p.period),
      addOn: Number(p.addOnBit) !== 0,
      active: p.active,
      packages: p.packages.map(Number),
    });
  }
  const ppv = new Map();
  for (const id of range(ppvCount)) {
    const e = await b.ppvEventOf(id);
    ppv.set(id, {
      id,
      name: ppvNames.get(id) ?? `event #${id}`,
      price: e.price,
      packageId: Number(e.packageId),
      salesClose: Number(e.salesClose),
      viewStart: Number(e.viewStart),
      viewEnd: Number(e.viewEnd),
    });
  }
  const titles = new Map();
  for (const id of range(titleCount)) {
    const t = await b.vodTitleOf(id);
    titles.set(id, { id, name: titleNames.get(id) ?? `title #${id}`, price: t.price, packageId: Number(t.packageId) });
  }
  const meters = new Map(range(meterCount).map((id) => [id, { id, name: meterNames.get(id) ?? `meter #${id}`, unit: units[id] ?? "unit" }]));
  return { plans, ppv, titles, meters };
}

/** The token's EIP-712 domain when it supports EIP-2612 permit and the domain checks out; else null. */
async function permitDomain() {
  const t = app.token;
  try {
    const [separator] = await Promise.all([t.DOMAIN_SEPARATOR(), t.nonces(app.account)]);
    let name;
    let version = "1";
    try {
      const d = await t.eip712Domain();
      name = d.name;
      version = d.version;
    } catch {
      name = await t.name();
      version = await t.version().catch(() => "1");
    }
    const domain = { name, version, chainId: Number(app.config.deployment.chain_id), verifyingContract: await t.getAddress() };
    return TypedDataEncoder.hashDomain(domain) === separator ? domain : null;
  } catch {
    return null;
  }
}

// ----- the account view ----------------------------------------------------------------------------------------

/** Re-reads the whole account view from the chain. */
async function refresh() {
  app.refreshing = true;
  try {
    await renderAccount();
  } finally {
    app.refreshing = false;
  }
}

/** Keeps the view current as blocks arrive (a keeper's renewal, a usage batch, an arbiter's decision): a light
 * poll of the block number, and a full refresh after a new block at most every FOLLOW_SECONDS, never while a
 * transaction of this page or another refresh is under way. */
function follow() {
  clearInterval(app.follower);
  app.follower = setInterval(async () => {
    if (app.busy || app.refreshing || document.hidden) return;
    try {
      if ((await app.provider.getBlockNumber()) !== app.viewBlock) await refresh();
    } catch {
      // the wallet's node did not answer: the next tick asks again
    }
  }, FOLLOW_SECONDS * 1000);
}

async function renderAccount() {
  const b = app.billing;
  const me = app.account;
  const head = await app.provider.getBlock("latest");
  app.chainTime = Number(head.timestamp);
  app.viewBlock = head.number; // the block this view shows
  const [acct, wallet, cap] = await Promise.all([b.accountOf(me), app.token.balanceOf(me), b.spendingCapOf(me)]);
  $("account-address").textContent = me;
  $("balance").textContent = fmt.amount(acct.balance);
  $("wallet-balance").textContent = fmt.amount(wallet);
  $("customer-id").textContent = Number(acct.customerId) ? `#${acct.customerId}` : "none yet (given with your first subscription, purchase or spending cap)";
  $("chain-time").textContent = formatDate(app.chainTime);

  const subs = await subscriptions(acct);
  renderSubscriptions(subs);
  await renderEntitlements();
  renderCap(cap);
  const disputes = await readDisputes();
  await renderPending(Number(acct.customerId), disputes);
  renderDisputes(disputes);
  fillForms(acct, subs);
  await loadStatements();
}

async function subscriptions(acct) {
  const subs = [];
  const planId = Number(acct.planId);
  if (planId) {
    let state = STATES[Number(acct.state)] ?? "unknown";
    let note = "";
    if (Number(acct.pendingPlanId)) note = ` (changes to ${planName(Number(acct.pendingPlanId))} at the end of the period)`;
    if (state === "grace") note = ` (renewal failed: top up before ${formatDate(acct.graceEnds)})`;
    subs.push({
      id: planId,
      name: planName(planId),
      state: `${state}${note}`,
      paidThrough: Number(acct.paidThrough),
      price: acct.paidPrice,
      maxPrice: acct.maxPrice,
      live: !["suspended", "cancelled", "ended", "none"].includes(state),
    });
  }
  const ending = new Set(acct.addOnsEnding.map(Number));
  for (const id of acct.addOnPlanIds.map(Number)) {
    const until = Number(await app.billing["expiresAt(address,uint256)"](app.account, id));
    subs.push({
      id,
      name: planName(id),
      state: ending.has(id) ? "cancelled (ends at paid-through)" : until > app.chainTime ? "active" : "ended",
      paidThrough: until,
      price: app.catalogue.plans.get(id)?.price ?? 0n,
      maxPrice: null,
      live: !ending.has(id) && until > app.chainTime,
    });
  }
  return subs;
}

function renderSubscriptions(subs) {
  const body = $("subscriptions").querySelector("tbody");
  body.replaceChildren(
    ...subs.map((s) =>
      row([
        s.name,
        s.state,
        formatDate(s.paidThrough),
        { text: fmt.amount(s.price), attrs: { class: "num" } },
        { text: s.maxPrice === null ? "—" : fmt.amount(s.maxPrice), attrs: { class: "num" } },
      ]),
    ),
  );
  $("subscriptions").hidden = subs.length === 0;
  $("no-subscriptions").hidden = subs.length !== 0;
}

async function renderEntitlements() {
  const grants = new Map(); // package id -> what sells it
  const add = (pkg, what) => grants.set(pkg, [...(grants.get(pkg) ?? []), what]);
  for (const p of app.catalogue.plans.values()) for (const pkg of p.packages) add(pkg, p.name);
  for (const e of app.catalogue.ppv.values()) add(e.packageId, `${e.name} (pay-per-view)`);
  for (const t of app.catalogue.titles.values()) add(t.packageId, `${t.name} (rental)`);
  const ids = [...grants.keys()].sort((a, b) => a - b);
  const entitled = await Promise.all(ids.map((pkg) => app.billing.isEntitled(app.account, pkg)));
  const items = ids.filter((_, i) => entitled[i]).map((pkg) => el("li", `Package ${pkg}: ${grants.get(pkg).join(", ")}`));
  // Bought, not yet on: a pay-per-view event is watchable only in its window.
  for (const e of app.catalogue.ppv.values()) {
    if (e.viewStart <= app.chainTime || entitled[ids.indexOf(e.packageId)]) continue;
    const bought = await app.billing.ppvPurchaseOf(e.id, app.account);
    if (bought.amount > 0n && Number(bought.status) !== 3) {
      items.push(el("li", `Package ${e.packageId}: ${e.name} (pay-per-view), watchable ${formatDate(e.viewStart)} to ${formatDate(e.viewEnd)}`));
    }
  }
  $("entitlements").replaceChildren(...(items.length ? items : [el("li", "Nothing right now.")]));
}

function renderCap(cap) {
  const [limit, remaining, periodEnds] = [cap[0], cap[1], Number(cap[2])];
  $("cap").textContent =
    limit === 0n
      ? "No cap: usage and rentals are limited only by your balance."
      : `${fmt.amount(limit)} per period; ${fmt.amount(remaining)} left until ${formatDate(periodEnds)}.`;
}

/** Usage lines, pay-per-view purchases and rentals charged to this account that are still in their dispute window
 * (or disputed and awaiting the arbiter). */
async function pendingCharges(customerId, disputes) {
  const b = app.billing;
  const disputeByRef = new Map(disputes.map((d) => [d.ref, d]));
  const me = app.account;
  const charges = [];
  if (customerId) {
    // A usage line is disputable until its release day, at most the dispute window (plus the day it rounds up
    // to) after settlement: older batches cannot hold a disputable line, so they are not read.
    const window = Number(await b.disputeWindow());
    const since = await blockAt(app.chainTime - window - 2 * DAY);
    const [settled, declinedLogs] = await Promise.all([logs("UsageSettled", [], since), logs("UsageDeclined", [], since)]);
    const declined = new Map();
    for (const e of declinedLogs) {
      const id = e.args.batchId;
      declined.set(id, [...(declined.get(id) ?? []), Number(e.args.lineIndex)]);
    }
    const coder = AbiCoder.defaultAbiCoder();
    for (const e of settled) {
      const s = e.args.settlement;
      const closes = Number(s.releaseDay) * DAY;
      const lines = e.args.lines;
      const bytes = (lines.length - 2) / 2;
      const skip = new Set(declined.get(e.args.batchId) ?? []);
      for (let i = 0; i < bytes / 8; i++) {
        const at = 2 + i * 16;
        if (Number.parseInt(lines.slice(at, at + 8), 16) !== customerId || skip.has(i)) continue;
        const quantity = BigInt(`0x${lines.slice(at + 8, at + 16)}`);
        const amount = (quantity * s.unitPrice + s.unitScale - 1n) / s.unitScale; // rounded up, as charged
        if (amount === 0n) continue;
        const key = keccak256(coder.encode(["uint8", "uint64", "uint32"], [DISPUTE_USAGE, e.args.batchId, i]));
        const meter = app.catalogue.meters.get(Number(s.meterId));
        const what = `${meter?.name ?? "usage"}: ${quantity} ${plural(quantity, meter?.unit ?? "unit")}, ${formatDate(e.args.windowStart).slice(0, 10)} (batch ${e.args.batchId}, line ${i})`;
        app.usageNames.set(key, what);
        charges.push({
          kind: "usage",
          what,
          amount,
          closes,
          disputed: disputeByRef.get(key),
          dispute: () =>
            b.disputeUsage(
              [s.meterId, s.unitPrice, s.unitScale, s.splitId, s.releaseDay],
              e.args.batchId,
              i,
              lines,
              [...skip].sort((x, y) => x - y),
            ),
        });
      }
    }
  }
  const seen = new Set();
  for (const e of await logs("PpvPurchased", [me])) {
    const id = Number(e.args.eventId);
    if (seen.has(`p${id}`)) continue;
    seen.add(`p${id}`);
    const c = await b.ppvPurchaseOf(id, me);
    charges.push(chargeFrom("pay-per-view", app.catalogue.ppv.get(id)?.name ?? `event #${id}`, c, () => b.disputePpv(id)));
  }
  for (const e of await logs("RentalCharged", [null, me])) {
    const id = Number(e.args.titleId);
    if (seen.has(`r${id}`)) continue;
    seen.add(`r${id}`);
    const c = await b.rentalOf(me, id);
    charges.push(chargeFrom("rental", app.catalogue.titles.get(id)?.name ?? `title #${id}`, c, () => b.disputeRental(id)));
  }
  const out = [];
  for (const c of charges) {
    if (c.disputed) {
      c.status = DISPUTE_STATUS[Number(c.disputed.view.status)] ?? "disputed";
      c.canDispute = false;
    } else if (c.status === undefined) {
      c.status = "charged";
    }
    if (c.canDispute === undefined) c.canDispute = app.chainTime < c.closes;
    if (app.chainTime < c.closes || c.status.startsWith("disputed")) out.push(c);
  }
  return out;
}

/** "minute" -> "minutes" for a count other than one; symbols such as "MB" stay as they are. */
function plural(count, unit) {
  return count !== 1n && /^[a-z]+$/.test(unit) && !unit.endsWith("s") ? `${unit}s` : unit;
}

function chargeFrom(kind, name, c, dispute) {
  const status = Number(c.status);
  return {
    kind,
    what: `${kind === "rental" ? "Rental" : "Pay-per-view"}: ${name}`,
    amount: c.amount,
    closes: Number(c.releaseDay) * DAY,
    status: CHARGE_STATUS[status] ?? "charged",
    canDispute: status === 1 ? undefined : false,
    dispute,
  };
}

const DISPUTE_KINDS = { 1: "usage line", 2: "pay-per-view", 3: "rental" };
const OUTCOMES = { 1: "awaiting the arbiter", 2: "refunded to your balance", 3: "upheld: the charge stands" };

/** The customer's disputes, oldest first: {id, ref (the charge key), view (disputeOf)}. Read once per refresh;
 * the charges table and the disputes table both use them. */
async function readDisputes() {
  const opened = await logs("DisputeOpened", [null, app.account]);
  return Promise.all(
    opened.map(async (e) => ({ id: e.args.disputeId, ref: e.args.ref, view: await app.billing.disputeOf(e.args.disputeId) })),
  );
}

function renderDisputes(disputes) {
  const rows = [];
  for (const { id, ref, view: d } of disputes) {
    const kind = Number(d.kind);
    let what = DISPUTE_KINDS[kind] ?? "charge";
    if (kind === 2) what = `Pay-per-view: ${app.catalogue.ppv.get(Number(d.objectId))?.name ?? `event #${d.objectId}`}`;
    if (kind === 3) what = `Rental: ${app.catalogue.titles.get(Number(d.objectId))?.name ?? `title #${d.objectId}`}`;
    if (kind === 1) what = app.usageNames.get(ref) ?? "Usage line";
    rows.push(
      row([`#${id}`, what, { text: fmt.amount(d.amount), attrs: { class: "num" } }, OUTCOMES[Number(d.status)] ?? "?"]),
    );
  }
  $("disputes").querySelector("tbody").replaceChildren(...rows.reverse());
  $("disputes").hidden = rows.length === 0;
  $("no-disputes").hidden = rows.length !== 0;
}

async function renderPending(customerId, disputes) {
  const charges = await pendingCharges(customerId, disputes);
  const body = $("pending").querySelector("tbody");
  body.replaceChildren(
    ...charges.map((c) => {
      const action = c.canDispute
        ? el("button", "Dispute", { type: "button", class: "small", "aria-label": `Dispute ${c.what}` })
        : el("span", "");
      if (c.canDispute) {
        action.addEventListener("click", () => transact(`Dispute: ${c.what}`, c.dispute));
      }
      return row([c.what, { text: fmt.amount(c.amount), attrs: { class: "num" } }, formatDate(c.closes), c.status, action]);
    }),
  );
  $("pending").hidden = charges.length === 0;
  $("no-pending").hidden = charges.length !== 0;
}

// ----- actions -------------------------------------------------------------------------------------------------

function fillForms(acct, subs) {
  const plans = [...app.catalogue.plans.values()].filter((p) => p.active);
  const label = (p) => `${p.name} — ${fmt.amount(p.price)} / ${formatDuration(p.period)}${p.addOn ? " (add-on)" : ""}`;
  options($("subscribe-plan"), plans.map((p) => [p.id, label(p)]));
  const current = Number(acct.planId);
  options(
    $("change-plan"),
    plans.filter((p) => !p.addOn && p.id !== current).map((p) => [p.id, label(p)]),
  );
  options($("cancel-plan"), subs.filter((s) => s.live).map((s) => [s.id, s.name]));
  options(
    $("accept-plan"),
    subs.filter((s) => s.live).map((s) => {
      const now = app.catalogue.plans.get(s.id)?.price ?? 0n;
      return [s.id, `${s.name} — now ${fmt.amount(now)}${s.maxPrice === null ? "" : `, you accept ${fmt.amount(s.maxPrice)}`}`];
    }),
  );
  const events = [...app.catalogue.ppv.values()].filter((e) => e.salesClose > app.chainTime);
  options(
    $("ppv-event"),
    events.map((e) => [e.id, `${e.name} — ${fmt.amount(e.price)}, starts ${formatDate(e.viewStart)}`]),
  );
  for (const [select, input] of [["subscribe-plan", "subscribe-max"], ["change-plan", "change-max"]]) {
    const plan = app.catalogue.plans.get(Number($(select).value));
    if (plan && !$(input).dataset.touched) $(input).value = editableAmount(plan.price);
  }
}

/** An amount as a person would type it back: token units, no thousands separators, no symbol. */
function editableAmount(value) {
  return formatAmount(value, app.decimals, "").replace(/,/g, "");
}

function wireForms() {
  for (const [select, input] of [["subscribe-plan", "subscribe-max"], ["change-plan", "change-max"]]) {
    $(input).addEventListener("input", () => {
      $(input).dataset.touched = "1";
    });
    $(select).addEventListener("change", () => {
      const plan = app.catalogue.plans.get(Number($(select).value));
      delete $(input).dataset.touched;
      if (plan) $(input).value = editableAmount(plan.price);
    });
  }
  onSubmit("deposit-form", (f) => deposit(parseAmount(f.amount.value, app.decimals)));
  onSubmit("withdraw-form", (f) => {
    const amount = parseAmount(f.amount.value, app.decimals);
    return transact(`Withdraw ${fmt.amount(amount)}`, () => app.billing.withdraw(amount));
  });
  onSubmit("subscribe-form", (f) => {
    const plan = Number(f.plan.value);
    const max = parseAmount(f.max.value, app.decimals);
    return transact(`Subscribe to ${planName(plan)}`, () => app.billing.subscribe(plan, max));
  });
  onSubmit("change-form", (f) => {
    const plan = Number(f.plan.value);
    const max = parseAmount(f.max.value, app.decimals);
    return transact(`Change plan to ${planName(plan)}`, () => app.billing.changePlan(plan, max));
  });
  onSubmit("cancel-form", (f) => {
    const plan = Number(f.plan.value);
    return transact(`Cancel ${planName(plan)}`, () => app.billing.cancel(plan));
  });
  onSubmit("accept-form", (f) => {
    const plan = Number(f.plan.value);
    const max = parseAmount(f.max.value, app.decimals);
    return transact(`Accept up to ${fmt.amount(max)} for ${planName(plan)}`, () => app.billing.setMaxPrice(plan, max));
  });
  onSubmit("ppv-form", (f) => {
    const id = Number(f.event.value);
    return transact(`Buy ${app.catalogue.ppv.get(id)?.name ?? `event #${id}`}`, () => app.billing.buyPpv(id));
  });
  onSubmit("cap-form", (f) => {
    const cap = parseAmount(f.cap.value, app.decimals, { allowZero: true });
    return transact(cap === 0n ? "Remove the spending cap" : `Set the spending cap to ${fmt.amount(cap)}`, () =>
      app.billing.setSpendingCap(cap),
    );
  });
  $("refresh").addEventListener("click", async () => {
    fail("");
    try {
      await refresh();
      say("Refreshed from the chain.");
    } catch (err) {
      fail(explainFailure(err, interfaces(), fmt));
    }
  });
  $("statement-select").addEventListener("change", () => showStatement($("statement-select").value));
  $("statement-download").addEventListener("click", downloadStatement);
  $("statement-file").addEventListener("change", openStatementFile);
}

function onSubmit(id, handler) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    if (app.busy) return;
    fail("");
    try {
      await handler(event.target.elements);
    } catch (err) {
      fail(err instanceof Error && !err.code ? err.message : explainFailure(err, interfaces(), fmt));
    }
  });
}

function setBusy(busy) {
  app.busy = busy;
  for (const button of document.querySelectorAll("#actions button, #pending button")) button.disabled = busy;
  document.body.setAttribute("aria-busy", String(busy));
}

/** Sends one or more transactions through the wallet; shows progress, then the decoded error or the new state. */
async function transact(label, ...steps) {
  setBusy(true);
  fail("");
  try {
    for (const [n, step] of steps.entries()) {
      const part = steps.length > 1 ? ` (step ${n + 1} of ${steps.length})` : "";
      say(`${label}${part}: confirm in your wallet…`);
      const tx = await step();
      say(`${label}${part}: waiting for transaction ${shortHex(tx.hash)}…`);
      const receipt = await tx.wait();
      if (receipt.status !== 1) throw new Error(`transaction ${tx.hash} failed`);
    }
    await refresh();
    say(`${label}: done.`);
  } catch (err) {
    say(`${label}: not done.`);
    fail(explainFailure(err, interfaces(), fmt));
  } finally {
    setBusy(false);
  }
}

async function deposit(amount) {
  const label = `Deposit ${fmt.amount(amount)}`;
  const billing = app.billing;
  if (app.permit) {
    // One signature (EIP-2612, off chain) and one transaction.
    return transact(label, async () => {
      const nonce = await app.token.nonces(app.account);
      const deadline = BigInt(app.chainTime + 3600);
      const signer = await app.provider.getSigner(app.account);
      const value = { owner: app.account, spender: await billing.getAddress(), value: amount, nonce, deadline };
      say(`${label}: sign the permit in your wallet…`);
      const sig = Signature.from(await signer.signTypedData(app.permit, PERMIT_TYPES, value));
      say(`${label}: confirm the deposit in your wallet…`);
      return billing.depositWithPermit(amount, deadline, sig.v, sig.r, sig.s);
    });
  }
  const allowance = await app.token.allowance(app.account, await billing.getAddress());
  const steps = [];
  if (allowance < amount) steps.push(() => app.token.approve(billing.getAddress(), amount));
  steps.push(() => billing.deposit(amount));
  return transact(label, ...steps);
}

// ----- statements ----------------------------------------------------------------------------------------------

async function loadStatements() {
  try {
    const res = await fetch(`statements?customer=${app.account}`, { cache: "no-store" });
    app.statements = res.ok ? await res.json() : [];
  } catch {
    app.statements = [];
  }
  const items = app.statements.map((s) => [s.file, `Period ${s.period}: ${formatDate(s.start).slice(0, 10)} to ${formatDate(s.end).slice(0, 10)}`]);
  options($("statement-select"), items);
  $("statement-download").disabled = items.length === 0 && !app.statement;
  if (items.length && (!app.statement || app.statement.source === "server")) await showStatement($("statement-select").value);
  else if (!items.length && !app.statement) $("statement-summary").textContent = "No statement has been published for this account yet.";
}

async function showStatement(file) {
  try {
    const res = await fetch(`statements/${encodeURIComponent(file)}`, { cache: "no-store" });
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    renderStatement(await res.text(), "server", file);
  } catch (err) {
    fail(`The statement could not be shown: ${err.message}`);
  }
}

async function openStatementFile(event) {
  const file = event.target.files?.[0];
  if (!file) return;
  fail("");
  try {
    renderStatement(await file.text(), "file", file.name);
  } catch (err) {
    fail(`That file is not a statement: ${err.message}`);
  }
}

/** Statement JSON with its integers exact: amounts of an 18-decimal token do not fit a double. */
function parseStatement(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value !== "number" || !Number.isInteger(value)) return value;
    if (context?.source !== undefined && /^-?\d+$/.test(context.source)) return BigInt(context.source);
    if (!Number.isSafeInteger(value)) throw new Error(`${key} is too large for this browser to read exactly`);
    return BigInt(value);
  });
}

function renderStatement(text, source, name) {
  const data = parseStatement(text);
  if (!Array.isArray(data?.lines) || data.period === undefined) throw new Error("it has no period or no lines");
  app.statement = { data, text, source, name };
  const dec = Number(data.token_decimals ?? app.decimals);
  const sym = data.token_symbol ?? app.symbol;
  const mine = data.customer && getAddress(data.customer) === app.account;
  $("statement-summary").textContent =
    `Period ${data.period}, ${formatDate(data.start).slice(0, 10)} to ${formatDate(data.end).slice(0, 10)}: ` +
    `opening ${formatAmount(BigInt(data.opening), dec, sym)}, closing ${formatAmount(BigInt(data.closing), dec, sym)}` +
    `${mine ? "" : ` (a statement of ${data.customer}, not of the connected account)`}.`;
  const body = $("statement-lines").querySelector("tbody");
  body.replaceChildren(
    ...data.lines.map((line, i) => {
      const button = el("button", "Verify", { type: "button", class: "small", "aria-label": `Verify line ${line.index}` });
      const cell = el("span", "", { id: `proof-${i}` });
      const wrap = document.createElement("span");
      wrap.append(button, " ", cell);
      button.addEventListener("click", () => verifyLine(i));
      return row([
        line.index,
        formatDate(line.timestamp),
        line.description ?? "",
        { text: formatAmount(BigInt(line.amount), dec, sym), attrs: { class: "num" } },
        wrap,
      ]);
    }),
  );
  $("statement-download").disabled = false;
  $("verify-result").textContent = "";
}

function downloadStatement() {
  const s = app.statement;
  if (!s) return;
  const blob = new Blob([s.text], { type: "application/json" }); // the file as published, byte for byte
  const link = el("a", "", { href: URL.createObjectURL(blob), download: s.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** The statement leaf, as streamledger.statements and the contract compute it. */
function statementLeaf(period, line) {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["uint32", "address", "uint32", "uint8", "uint64", "int256", "bytes32"],
    [period, line.customer, line.index, line.kind, line.timestamp, BigInt(line.amount), line.ref],
  );
  return keccak256(keccak256(encoded));
}

function foldProof(leaf, proof) {
  return proof.reduce((node, sibling) => {
    const [a, b] = node.toLowerCase() < sibling.toLowerCase() ? [node, sibling] : [sibling, node];
    return keccak256(concat([a, b]));
  }, leaf);
}

async function verifyLine(i) {
  const { data } = app.statement;
  const line = data.lines[i];
  const cell = $(`proof-${i}`);
  try {
    const period = Number(data.period);
    const [root, , , count] = await app.billing.statementRoot(period);
    if (/^0x0+$/.test(root)) {
      cell.textContent = "no root on chain";
      cell.className = "bad";
      $("verify-result").textContent = `No statement root is committed on chain for period ${period}.`;
      return;
    }
    const computed = foldProof(statementLeaf(period, line), line.proof ?? []);
    const tuple = [line.customer, line.index, line.kind, line.timestamp, BigInt(line.amount), line.ref];
    const byContract = await app.billing.verifyStatementLine(period, tuple, line.proof ?? []);
    const ok = computed === root && byContract;
    cell.textContent = ok ? "verified" : "does not match";
    cell.className = ok ? "ok" : "bad";
    $("verify-result").textContent = ok
      ? `Line ${line.index} is part of the statement root committed on chain for period ${period} (root ${root}, ${count} lines): recomputed here and confirmed by the contract.`
      : `Line ${line.index} does NOT match the root committed on chain for period ${period} (root ${root}): this line is not what the operator committed.`;
  } catch (err) {
    cell.textContent = "could not check";
    cell.className = "bad";
    fail(explainFailure(err, interfaces(), fmt));
  }
}

start();
