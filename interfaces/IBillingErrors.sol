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
}
