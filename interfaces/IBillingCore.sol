// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingErrors} from "./IBillingErrors.sol";
import {IBillingEvents} from "./IBillingEvents.sol";
import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingCore
/// @notice The gas-critical part of IIptvBilling that the IptvBilling contract implements itself: the
/// balance, renewals and the middleware's entitlement check.
interface IBillingCore is IBillingTypes, IBillingErrors, IBillingEvents {
    /// @notice Deposits `amount` tokens from the caller's wallet (after an ERC-20 approve).
    /// @dev Emits Deposited. Requirements: not paused; amount > 0; the token delivers exactly `amount`.
    function deposit(uint256 amount) external;

    /// @notice Deposits with an EIP-2612 permit, in one transaction. A permit already used (for example by
    /// a front-runner) is tolerated when the allowance is in place.
    /// @dev Emits Deposited. Requirements: as deposit; a valid permit or a sufficient allowance.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Deposits from the caller's wallet into `customer`'s balance (a gift, or the operator's
    /// payment desk). Only `customer` can ever withdraw it.
    /// @dev Emits Deposited. Requirements: as deposit; customer is not zero or this contract.
    function depositFor(address customer, uint256 amount) external;

    /// @notice Withdraws from the caller's own balance. Works while paused.
    /// @dev Emits Withdrawn. Requirements: amount > 0 and <= balanceOf(caller).
    function withdraw(uint256 amount) external;

    /// @notice Renews due subscriptions of `planId` for the customers in `customerIds` (packed 4-byte
    /// ids). Customers not due, not on the plan, cancelled or unknown are skipped; a customer who cannot
    /// pay enters grace and is reported once with RenewalFailed. Never reverts for one customer.
    /// @dev Emits RenewalsCharged for the plain renewals, Renewed/RenewalFailed/RenewalDeclined for others.
    /// Requirements: not paused; ids length a multiple of 4.
    /// @return renewed how many customers were charged
    function renew(uint16 planId, bytes calldata customerIds) external returns (uint256 renewed);

    /// @notice Chainlink Automation compatible entry point: renews what checkUpkeep proposed. Everything is
    /// re-checked, so stale or hostile performData can never charge a customer who is not due.
    function performUpkeep(bytes calldata performData) external;

    /// @notice Withdraws the caller's provider earnings.
    /// @dev Emits EarningsWithdrawn. Requirements: not paused; earnings > 0.
    function withdrawEarnings() external;

    /// @notice The stablecoin this deployment bills in.
    function token() external view returns (address);

    /// @notice The customer's withdrawable balance.
    function balanceOf(address customer) external view returns (uint256);

    /// @notice True when the customer may watch `packageId` now: a base plan or add-on that includes it is
    /// paid, in trial, or in grace; or it is a pay-per-view event the customer bought, during its viewing
    /// window; or a VOD title the customer rented, until the rental expires. Refunded charges entitle to nothing.
    function isEntitled(address customer, uint256 packageId) external view returns (bool);
}
