// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingErrors} from "./IBillingErrors.sol";
import {IBillingEvents} from "./IBillingEvents.sol";
import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingSubscriptions
/// @notice Subscriptions and escrow release (implemented by SubscriptionModule, reached through IptvBilling).
interface IBillingSubscriptions is IBillingTypes, IBillingErrors, IBillingEvents {
    /// @notice Assigns a customer id (used by renewals and usage reports) to `customer`. Subscribing does it
    /// automatically; anyone may do it ahead of time. Idempotent.
    /// @dev Emits CustomerRegistered the first time.
    function register(address customer) external returns (uint32 customerId);

    /// @notice Subscribes the caller to a plan: charges the first period now, or starts the trial. For an
    /// add-on, charges the rest of the current base period, pro rata (rounded up).
    /// Re-subscribing to a plan cancelled earlier but still paid resumes it without a charge.
    /// @param maxPrice the highest per-period price the caller accepts for future renewals
    /// @dev Emits Subscribed (or AddOnSubscribed, or Resumed). Requirements: not paused; plan active;
    /// price <= maxPrice; balance covers the charge; no other live base subscription.
    function subscribe(uint256 planId, uint256 maxPrice) external;

    /// @notice Changes the highest price the caller accepts for a plan they hold. Raising it above a new
    /// price lets renewals resume.
    /// @dev Emits MaxPriceChanged.
    function setMaxPrice(uint256 planId, uint256 maxPrice) external;

    /// @notice Stops renewal of a plan (base or add-on); access continues until the paid-through time.
    /// Cancelling the base plan ends its add-ons with it.
    /// @dev Emits Cancelled or AddOnEnded.
    function cancel(uint256 planId) external;

    /// @notice Cancels now and refunds the unused time pro rata (rounded down) from escrow.
    /// Cancelling the base plan also cancels and refunds its add-ons.
    /// @dev Emits Refunded and Cancelled (or AddOnEnded).
    function cancelNow(uint256 planId) external;

    /// @notice Moves the caller's base subscription to another base plan with the same period length.
    /// A plan at the same or a higher price takes effect now: the unused time of the old plan is credited
    /// (rounded down) and the same time on the new plan charged (rounded up). A cheaper plan takes effect
    /// at the end of the paid period.
    /// @dev Emits PlanChanged or PlanChangeScheduled. Requirements: not paused; a live base subscription;
    /// new plan active; price <= maxPrice; balance covers an upgrade's net charge.
    function changePlan(uint256 newPlanId, uint256 maxPrice) external;

    /// @notice Pays the escrow bucket (splitId, day) out to the split's providers' earnings, once that day
    /// has started. Anyone may call it. Releasing an empty bucket does nothing.
    /// @dev Emits EscrowReleased and EarningsCredited per payee. Requirements: not paused; day started.
    function releaseEscrow(uint16 splitId, uint32 day) external;
}
