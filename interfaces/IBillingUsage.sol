// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingErrors} from "./IBillingErrors.sol";
import {IBillingEvents} from "./IBillingEvents.sol";
import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingUsage
/// @notice Metered usage, pay-per-view, VOD rentals, spending caps and disputes (implemented by UsageModule,
/// reached through IptvBilling).
///
/// Usage arrives in batches signed off-chain by an m-of-n set of oracle signers (EIP-712, see
/// IBillingTypes.UsageBatch). Each batch is accepted once, in one transaction, and never reverts for one
/// customer: a line beyond the customer's spending cap or balance is not charged and is reported with
/// UsageDeclined. Metered, rental and pay-per-view charges wait in escrow for the dispute window; a disputed
/// charge is frozen until the arbiter refunds it or pays it to the providers.
interface IBillingUsage is IBillingTypes, IBillingErrors, IBillingEvents {
    // ----- oracle settlement -----

    /// @notice Settles a signed usage batch. `lines` packs each line as a 4-byte customer id and a 4-byte
    /// quantity (big-endian); `signatures` are 65-byte ECDSA signatures of the batch's EIP-712 digest, sorted
    /// by signer address, at least `threshold()` of them from current signers.
    /// @dev Emits UsageSettled, and UsageDeclined per line not charged. Requirements: not paused; before the
    /// deadline; batch id never seen; meter active; window end >= start; enough valid signatures.
    /// @return charged the total charged to escrow
    function settleUsage(UsageBatch calldata batch, bytes calldata lines, bytes[] calldata signatures)
        external
        returns (uint256 charged);

    /// @notice Settles a signed batch of VOD rentals (first plays reported by the platform). `rentals` packs
    /// each as a 4-byte customer id, a 4-byte title id and a 5-byte first-play time. Each rental is charged the
    /// title's price (subject to the spending cap) and entitles until firstPlayAt + the title's rental window.
    /// @dev Emits RentalCharged or UsageDeclined per rental. Requirements as settleUsage.
    function settleRentals(RentalBatch calldata batch, bytes calldata rentals, bytes[] calldata signatures)
        external
        returns (uint256 charged);

    // ----- customers -----

    /// @notice Caps what usage lines and rentals may charge the caller per cap period (0 removes the cap).
    /// Lowering the cap mid-period keeps what was already spent: the rest of the period allows cap - spent.
    /// Caps count in cap units (1e-6 token for tokens with more than 6 decimals), consumption rounded up.
    /// @dev Emits SpendingCapSet. Registers the caller if needed.
    function setSpendingCap(uint256 cap) external;

    /// @notice Buys a pay-per-view event from the caller's balance; entitles to its package during the
    /// viewing window. The charge waits in escrow until the window ends plus the dispute window.
    /// @dev Emits PpvPurchased. Requirements: not paused; before the sales close; not bought already.
    function buyPpv(uint32 eventId) external;

    /// @notice Disputes the caller's usage line `lineIndex` of batch `batchId`, restating the batch's
    /// settlement (from UsageSettled), its packed lines and the indices of its declined lines.
    /// @dev Emits DisputeOpened. Requirements: matches the commitment; the caller's line; charged; not
    /// disputed before; within the dispute window.
    function disputeUsage(
        UsageSettlement calldata settlement,
        uint64 batchId,
        uint32 lineIndex,
        bytes calldata lines,
        uint32[] calldata declined
    ) external returns (uint64 disputeId);

    /// @notice Disputes the caller's pay-per-view purchase while it is pending.
    function disputePpv(uint32 eventId) external returns (uint64 disputeId);

    /// @notice Disputes the caller's current rental of `titleId` while it is pending.
    function disputeRental(uint32 titleId) external returns (uint64 disputeId);

    // ----- arbiter -----

    /// @notice Decides a dispute: `refund` returns the amount to the customer's balance (and revokes a
    /// disputed PPV or rental entitlement); otherwise it is credited to the charge's split.
    /// @dev Emits DisputeResolved. Requirements: ARBITER_ROLE; dispute open.
    function resolveDispute(uint64 disputeId, bool refund) external;
}
