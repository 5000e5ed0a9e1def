// A reverted transaction, in plain words. The contract's custom errors (interfaces/IBillingErrors.sol) and
// the OpenZeppelin errors a customer can meet are decoded against the ABIs and explained with their values:
// amounts in token units, times as dates. Anything unknown still shows its decoded name and values.

const STATES = ["none", "trial", "active", "grace", "suspended", "cancelled", "ended"];

/** Plain-words explanations, by error name. `f` formats what the message needs (amounts, dates, plans). */
const MESSAGES = {
  Billing_ZeroAmount: () => "The amount must be more than zero.",
  Billing_InsufficientBalance: (a, f) =>
    `Your prepaid balance is too low: this needs ${f.amount(a.needed)} and you have ${f.amount(a.available)}. Deposit more first.`,
  Billing_BalanceOverflow: (a, f) => `That would take your balance above the ${f.amount(a.maximum)} an account can hold.`,
  Billing_TransferAmountMismatch: (a, f) =>
    `The token moved ${f.amount(a.received)} instead of ${f.amount(a.expected)}; this token is not supported for deposits.`,
  Billing_NoEarnings: () => "There are no earnings to withdraw.",
  Billing_InvalidCustomer: () => "This address cannot be a customer.",
  Billing_UnknownPlan: (a) => `There is no plan #${a.planId}.`,
  Billing_PlanInactive: (a, f) => `${f.plan(a.planId)} is no longer sold.`,
  Billing_TooManyAddOns: () => "You already have the largest number of add-ons an account can hold.",
  Billing_PriceAboveMax: (a, f) =>
    `${f.plan(a.planId)} costs ${f.amount(a.price)}, more than the most you agreed to pay (${f.amount(a.maxPrice)}). Raise your maximum price if you accept it.`,
  Billing_AlreadySubscribed: (a, f) => `You are already subscribed to ${f.plan(a.planId)}.`,
  Billing_NotSubscribed: (a, f) => `You are not subscribed to ${f.plan(a.planId)}.`,
  Billing_AddOnNeedsBase: (a, f) => `${f.plan(a.addOnPlanId)} is an add-on: subscribe to a base plan first.`,
  Billing_IncompatiblePlanChange: (a, f) => `You cannot change from ${f.plan(a.fromPlanId)} to ${f.plan(a.toPlanId)}.`,
  Billing_CapTooLarge: (a, f) => `A spending cap can be at most ${f.amount(a.maximum)}.`,
  Billing_UnknownPpvEvent: (a) => `There is no pay-per-view event #${a.eventId}.`,
  Billing_PpvSalesClosed: (a, f) => `Sales for this event closed on ${f.date(a.salesClose)}.`,
  Billing_PpvAlreadyBought: () => "You have already bought this event.",
  Billing_UnknownTitle: (a) => `There is no title #${a.titleId}.`,
  Billing_NotYourCharge: () => "That charge is not on your account.",
  Billing_NothingToDispute: () => "There is nothing left to dispute in that charge.",
  Billing_DisputeWindowClosed: (a, f) => `The time to dispute this charge ended on ${f.date(a.closedAt)}.`,
  Billing_AlreadyDisputed: () => "You have already disputed this charge; it waits for the arbiter.",
  Billing_BatchMismatch: () => "The usage batch does not match what was settled on chain; reload the page and try again.",
  Billing_UnknownCustomerId: () => "This account is not registered yet: make a deposit first.",
  EnforcedPause: () => "Billing is paused by the operator for now; your money is safe. Withdrawals stay open.",
  ReentrancyGuardReentrantCall: () => "The token tried to call back into billing; the transaction was refused.",
  SafeERC20FailedOperation: () => "The token refused the transfer.",
  ERC20InsufficientBalance: (a, f) =>
    `Your wallet holds ${f.amount(a.balance)} of the token, less than the ${f.amount(a.needed)} needed.`,
  ERC20InsufficientAllowance: (a, f) =>
    `The billing contract may take only ${f.amount(a.allowance)} from your wallet, less than ${f.amount(a.needed)}.`,
  ERC2612ExpiredSignature: () => "The deposit authorisation expired before it was used. Try again.",
  ERC2612InvalidSigner: () => "The deposit authorisation was not signed by this account.",
  AccessControlUnauthorizedAccount: () => "This account is not allowed to do that (an operator action).",
};

/** Error(string) reverts and the wallet's own refusals. */
function plainFallback(err) {
  const code = err?.code ?? err?.info?.error?.code ?? err?.error?.code;
  if (code === "ACTION_REJECTED" || code === 4001) return "You declined the request in your wallet.";
  if (code === 4100) return "Your wallet has not allowed this page to use the account.";
  if (code === "INSUFFICIENT_FUNDS") return "Your wallet has too little ETH to pay for gas.";
  return null;
}

function revertData(err) {
  for (const candidate of [err?.data, err?.info?.error?.data, err?.error?.data, err?.info?.error?.data?.data]) {
    if (typeof candidate === "string" && candidate.startsWith("0x") && candidate.length >= 10) return candidate;
  }
  return null;
}

function humanize(name) {
  return name.replace(/^Billing_/, "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/** {name, args (by parameter name), text} for a failed call or transaction, or null when it is not a revert. */
export function explainRevert(err, interfaces, f) {
  let decoded = null;
  if (err?.revert?.name) {
    decoded = { name: err.revert.name, args: err.revert.args, fragment: null };
  }
  const data = revertData(err);
  if (data) {
    for (const iface of interfaces) {
      try {
        const parsed = iface.parseError(data);
        if (parsed) {
          decoded = { name: parsed.name, args: parsed.args, fragment: parsed.fragment };
          break;
        }
      } catch {
        // not this ABI's error
      }
    }
  }
  if (!decoded) return null;
  const named = {};
  const inputs = decoded.fragment?.inputs ?? [];
  inputs.forEach((input, i) => {
    named[input.name || `arg${i}`] = decoded.args[i];
  });
  if (!inputs.length && decoded.args?.toObject) Object.assign(named, decoded.args.toObject());
  const explain = MESSAGES[decoded.name];
  let text;
  if (decoded.name === "Error") text = `The contract refused: ${decoded.args[0]}`;
  else if (decoded.name === "Panic") text = "The contract hit an internal error (panic); nothing was charged.";
  else if (explain) text = explain(named, f);
  else text = `Refused by the contract: ${humanize(decoded.name)}.`;
  return { name: decoded.name, args: named, text };
}

/** The message to show for any failure of a wallet request. */
export function explainFailure(err, interfaces, f) {
  const revert = explainRevert(err, interfaces, f);
  if (revert) return `${revert.text} (${revert.name})`;
  const plain = plainFallback(err);
  if (plain) return plain;
  return err?.shortMessage || err?.info?.error?.message || err?.message || String(err);
}

export { STATES };
