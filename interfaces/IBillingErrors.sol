// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IBillingErrors
/// @notice Every custom error of the billing contract, named `Billing_<condition>` with the values a
/// person needs to act on it. Off-chain tooling decodes them by selector (streamledger.errors).
interface IBillingErrors {
    // ----- amounts and balances -----

    /// @notice An amount argument was zero where a positive amount is required.
    error Billing_ZeroAmount();

    /// @notice The customer's withdrawable balance does not cover what the operation needs.
    error Billing_InsufficientBalance(address customer, uint256 needed, uint256 available);

    /// @notice A deposit would take the customer's balance above the per-customer maximum.
    error Billing_BalanceOverflow(address customer, uint256 balance, uint256 maximum);

    /// @notice The token moved a different amount than requested (fee-on-transfer or rebasing tokens, or a
    /// re-entrant transfer); such deposits are refused rather than credited on trust.
    error Billing_TransferAmountMismatch(uint256 expected, uint256 received);

    /// @notice The caller has no provider earnings to withdraw.
    error Billing_NoEarnings(address payee);

    // ----- customers -----

    /// @notice The address is not a usable customer (zero address or the contract itself).
    error Billing_InvalidCustomer(address customer);

    /// @notice No customer is registered under this id.
    error Billing_UnknownCustomerId(uint32 customerId);

    // ----- catalogue -----

    /// @notice No provider has this id.
    error Billing_UnknownProvider(uint16 providerId);

    /// @notice No split has this id.
    error Billing_UnknownSplit(uint16 splitId);

    /// @notice A split's entries are malformed: empty, too many, a zero share, duplicated providers, or
    /// basis points that do not sum to 10,000.
    error Billing_InvalidSplit();

    /// @notice No plan has this id.
    error Billing_UnknownPlan(uint256 planId);

    /// @notice Plan parameters are out of range (see IBillingCatalogue.addPlan).
    error Billing_InvalidPlan(string reason);

    /// @notice The plan accepts no new subscriptions.
    error Billing_PlanInactive(uint16 planId);

    /// @notice All add-on slots are taken.
    error Billing_TooManyAddOns();

    /// @notice A payout address was the zero address.
    error Billing_InvalidPayout();

    // ----- subscriptions -----

    /// @notice The plan's current price is above the maximum the customer accepts.
    error Billing_PriceAboveMax(uint16 planId, uint256 price, uint256 maxPrice);

    /// @notice The customer already holds a live base subscription; use changePlan.
    error Billing_AlreadySubscribed(address customer, uint16 planId);

    /// @notice The customer holds no live subscription to this plan.
    error Billing_NotSubscribed(address customer, uint256 planId);

    /// @notice An add-on needs a live base subscription whose period length matches the add-on's.
    error Billing_AddOnNeedsBase(address customer, uint16 addOnPlanId);

    /// @notice Plan changes are between base plans with the same period length.
    error Billing_IncompatiblePlanChange(uint16 fromPlanId, uint16 toPlanId);

    // ----- renewals and escrow -----

    /// @notice Malformed renewal batch: customer ids must be packed as 4-byte big-endian values.
    error Billing_MalformedBatch();

    /// @notice Escrowed funds for this day are not releasable yet.
    error Billing_EscrowNotReleasable(uint16 splitId, uint32 day, uint256 releasableAt);

    // ----- metered usage and the oracle -----

    /// @notice No meter has this id.
    error Billing_UnknownMeter(uint16 meterId);

    /// @notice The meter accepts no usage now.
    error Billing_MeterInactive(uint16 meterId);

    /// @notice Meter parameters are out of range (unit price 0 or above the balance type, scale 0).
    error Billing_InvalidMeter(string reason);

    /// @notice The batch's deadline has passed.
    error Billing_BatchExpired(uint64 batchId, uint256 deadline);

    /// @notice This batch id was settled before: every batch is accepted once.
    error Billing_BatchReplayed(uint64 batchId);

    /// @notice Malformed batch: no lines, lines not packed in whole records, or a window that ends before
    /// it starts.
    error Billing_MalformedUsage(string reason);

    /// @notice A signature recovered to an address that is not an oracle signer.
    error Billing_UnknownSigner(address signer);

    /// @notice Signatures must come sorted by signer address, strictly ascending (no signer twice).
    error Billing_SignersOutOfOrder();

    /// @notice Fewer valid signatures than the threshold.
    error Billing_NotEnoughSignatures(uint256 valid, uint256 threshold);

    /// @notice The threshold must be at least 1 and at most the number of signers.
    error Billing_InvalidThreshold(uint256 threshold, uint256 signers);

    /// @notice A configuration value is out of range.
    error Billing_InvalidSetting(string reason);

    /// @notice The cap does not fit the cap accounting: at most 2^48 - 1 cap units.
    error Billing_CapTooLarge(uint256 cap, uint256 maximum);

    // ----- pay-per-view and video on demand -----

    error Billing_UnknownPpvEvent(uint32 eventId);
    error Billing_InvalidPpvEvent(string reason);
    error Billing_PpvSalesClosed(uint32 eventId, uint256 salesClose);
    error Billing_PpvAlreadyBought(address customer, uint32 eventId);
    error Billing_UnknownTitle(uint32 titleId);
    error Billing_InvalidTitle(string reason);

    /// @notice The package id already belongs to another plan, event or title of another kind.
    error Billing_PackageTaken(uint256 packageId);

    // ----- disputes -----

    /// @notice The data given does not match what was settled (batch commitment).
    error Billing_BatchMismatch(uint64 batchId);

    /// @notice The charge is not the caller's.
    error Billing_NotYourCharge(address caller);

    /// @notice The charge was declined (never made), refunded, or was never made.
    error Billing_NothingToDispute();

    /// @notice The dispute window of this charge has closed (its escrow is releasable).
    error Billing_DisputeWindowClosed(uint256 closedAt);

    /// @notice The charge is already disputed.
    error Billing_AlreadyDisputed(bytes32 chargeKey);

    error Billing_UnknownDispute(uint64 disputeId);
    error Billing_DisputeAlreadyResolved(uint64 disputeId);

    // ----- statements -----

    /// @notice A period's statement root is committed once and never replaced.
    error Billing_StatementAlreadyCommitted(uint32 period);

    /// @notice A statement period must end after it starts, and carry a root and lines.
    error Billing_InvalidStatement();
}
