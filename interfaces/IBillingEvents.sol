// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingEvents
/// @notice Every money movement and state change emits one of these, right after the change, carrying what
/// a reader needs to recompute it from events alone (price snapshots, periods, the escrow bucket).
///
/// Money flows, in events:
/// - customer balance + : Deposited, Refunded, PlanChanged (credit part)
/// - customer balance - : Withdrawn, Subscribed, RenewalsCharged, Renewed, AddOnSubscribed, AddOnRenewed,
///                        PlanChanged (charge part)
/// - escrow (splitId, day) : every charge above adds to it, every refund takes from it, EscrowReleased empties it
/// - provider earnings  : EscrowReleased credits them (EarningsCredited per payee), EarningsWithdrawn pays out
/// - metered usage      : UsageSettled (lines and prices), UsageDeclined; PpvPurchased; RentalCharged
/// - disputes           : DisputeOpened moves a charge out of escrow, DisputeResolved refunds or pays it
interface IBillingEvents is IBillingTypes {
    // ----- catalogue -----

    event ProviderAdded(uint16 indexed providerId, address payout, string name);
    event ProviderPayoutChanged(uint16 indexed providerId, address previousPayout, address payout);
    event SplitAdded(uint16 indexed splitId, uint16[] providerIds, uint16[] bps);
    event PlanAdded(
        uint16 indexed planId,
        string name,
        uint256 price,
        uint32 period,
        uint32 trial,
        uint32 grace,
        uint16 maxStreams,
        uint16 splitId,
        uint8 addOnBit,
        uint256[] packages
    );
    /// @param epoch the catalogue price epoch that starts with this change
    event PlanPriceChanged(uint16 indexed planId, uint256 previousPrice, uint256 price, uint16 epoch);
    event PlanActiveChanged(uint16 indexed planId, bool active);
    event PlanPackagesChanged(uint16 indexed planId, uint256[] packages);
    event PlanSplitChanged(uint16 indexed planId, uint16 splitId);

    // ----- customers and balances -----

    event CustomerRegistered(address indexed customer, uint32 indexed customerId);
    event Deposited(address indexed customer, address indexed payer, uint256 amount, uint256 balance);
    event Withdrawn(address indexed customer, uint256 amount, uint256 balance);

    // ----- subscriptions -----

    /// @param price charged now (0 for a trial); escrowed in (splitId, releaseDay)
    event Subscribed(
        address indexed customer,
        uint16 indexed planId,
        uint256 price,
        uint256 maxPrice,
        uint40 paidThrough,
        bool trial,
        uint16 splitId,
        uint32 releaseDay
    );
    /// @notice A cancelled subscription was resumed before its paid period ended; nothing is charged.
    event Resumed(address indexed customer, uint16 indexed planId, uint256 maxPrice, uint40 paidThrough);
    event MaxPriceChanged(address indexed customer, uint16 indexed planId, uint256 maxPrice);
    /// @notice Renewal stops; access continues until `paidThrough`.
    event Cancelled(address indexed customer, uint16 indexed planId, uint40 paidThrough);
    /// @notice Money returned from escrow (splitId, releaseDay) to the customer's balance.
    event Refunded(
        address indexed customer, uint16 indexed planId, uint256 amount, uint16 splitId, uint32 releaseDay
    );
    /// @notice Immediate plan change: `credit` leaves escrow bucket (fromSplitId, releaseDay), `charge` enters
    /// (splitId, releaseDay), the customer's balance moves by `charge - credit`.
    event PlanChanged(
        address indexed customer,
        uint16 indexed fromPlanId,
        uint16 indexed toPlanId,
        uint256 credit,
        uint256 charge,
        uint40 paidThrough,
        uint16 fromSplitId,
        uint16 splitId,
        uint32 releaseDay
    );
    event PlanChangeScheduled(
        address indexed customer, uint16 indexed fromPlanId, uint16 indexed toPlanId, uint40 effectiveAt
    );
    /// @notice `charge` (the rest of the base period, pro rata, rounded up) went to escrow (splitId, releaseDay).
    event AddOnSubscribed(
        address indexed customer,
        uint16 indexed addOnPlanId,
        uint256 charge,
        uint256 maxPrice,
        uint16 splitId,
        uint32 releaseDay
    );
    event AddOnEnded(address indexed customer, uint16 indexed addOnPlanId, uint8 reason);

    // ----- renewals -----

    /// @notice The plain case of a renewal batch: every customer in `customerIds` (4-byte ids, packed) paid
    /// `price` for plan `planId`, their paid-through time moved forward by `period`, and the money went to
    /// escrow (splitId, releaseDay). Customers renewed in any other way get a Renewed event instead.
    event RenewalsCharged(
        uint16 indexed planId, uint256 price, uint32 period, uint16 splitId, uint32 releaseDay, bytes customerIds
    );
    /// @notice One customer's renewal outside the plain case (after a suspension, a price change, a
    /// scheduled downgrade, or the end of a trial).
    event Renewed(
        address indexed customer,
        uint16 indexed planId,
        uint256 price,
        uint40 paidThrough,
        uint16 splitId,
        uint32 releaseDay
    );
    /// @notice An add-on renewed with its base plan: `price` went to escrow (splitId, releaseDay).
    event AddOnRenewed(
        address indexed customer, uint16 indexed addOnPlanId, uint256 price, uint16 splitId, uint32 releaseDay
    );
    /// @notice A due renewal found the balance short; the customer is in grace until `graceEnds`.
    event RenewalFailed(address indexed customer, uint16 indexed planId, uint256 price, uint256 balance, uint40 graceEnds);
    /// @notice A due renewal was not charged because the price rose above the customer's maxPrice.
    event RenewalDeclined(address indexed customer, uint16 indexed planId, uint256 price, uint256 maxPrice);

    // ----- escrow and providers -----

    event EscrowReleased(uint16 indexed splitId, uint32 indexed day, uint256 amount);
    event EarningsCredited(address indexed payee, uint16 indexed providerId, uint16 indexed splitId, uint256 amount);
    event EarningsWithdrawn(address indexed payee, uint256 amount);

    // ----- oracle, meters, caps -----

    event SignerAdded(address indexed signer);
    event SignerRemoved(address indexed signer);
    event ThresholdChanged(uint8 threshold);
    event MeterAdded(uint16 indexed meterId, string name, uint256 unitPrice, uint32 unitScale, uint16 splitId);
    event MeterPriceChanged(uint16 indexed meterId, uint256 previousPrice, uint256 unitPrice);
    event MeterActiveChanged(uint16 indexed meterId, bool active);
    event DisputeWindowChanged(uint32 disputeWindow);
    event CapPeriodChanged(uint32 capPeriod);
    event SpendingCapSet(address indexed customer, uint256 cap);

    /// @notice A signed usage batch was settled. `lines` are the packed lines as signed (4-byte customer id,
    /// 4-byte quantity each); every line not reported by UsageDeclined was charged
    /// ceil(quantity * settlement.unitPrice / settlement.unitScale), and the total `charged` went to escrow
    /// (settlement.splitId, settlement.releaseDay). `settlement` is what a dispute restates.
    event UsageSettled(
        uint64 indexed batchId,
        uint16 indexed meterId,
        UsageSettlement settlement,
        uint32 windowStart,
        uint32 windowEnd,
        bytes32 recordsRoot,
        uint256 charged,
        bytes lines
    );

    /// @notice A usage line (or rental) that was not charged. reason: 1 spending cap, 2 balance (or unknown
    /// customer), 3 unknown or inactive title, 4 title already rented.
    event UsageDeclined(uint64 indexed batchId, uint32 lineIndex, uint32 customerId, uint256 amount, uint8 reason);

    // ----- pay-per-view and video on demand -----

    event PpvEventAdded(
        uint32 indexed eventId,
        string name,
        uint256 price,
        uint256 packageId,
        uint40 salesClose,
        uint40 viewStart,
        uint40 viewEnd,
        uint16 splitId
    );
    event PpvPurchased(
        address indexed customer, uint32 indexed eventId, uint256 price, uint16 splitId, uint32 releaseDay
    );
    event VodTitleAdded(
        uint32 indexed titleId, string name, uint256 price, uint256 packageId, uint32 rentalSeconds, uint16 splitId
    );
    event VodTitleActiveChanged(uint32 indexed titleId, bool active);
    /// @notice A rental reported by the oracle in batch `batchId` was charged; entitled until `expiresAt`.
    event RentalCharged(
        uint64 indexed batchId,
        address indexed customer,
        uint32 indexed titleId,
        uint256 price,
        uint40 expiresAt,
        uint16 splitId,
        uint32 releaseDay
    );

    // ----- disputes -----

    /// @notice `amount` left escrow (splitId, releaseDay) and is frozen until the arbiter decides.
    /// kind: 1 usage line, 2 pay-per-view, 3 rental. `ref` identifies the charge (see chargeKey).
    event DisputeOpened(
        uint64 indexed disputeId,
        address indexed customer,
        uint8 kind,
        bytes32 ref,
        uint256 amount,
        uint16 splitId,
        uint32 releaseDay
    );
    /// @notice refunded: back to the customer's balance; otherwise credited to the split's providers.
    event DisputeResolved(uint64 indexed disputeId, bool refunded, uint256 amount);

    // ----- statements -----

    /// @notice The Merkle root of every customer's statement lines for `period` ([start, end) in unix
    /// seconds), committed once.
    event StatementRootCommitted(uint32 indexed period, uint40 start, uint40 end, bytes32 root, uint32 lines);
}
