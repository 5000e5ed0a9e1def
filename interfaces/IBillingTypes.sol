// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IBillingTypes
/// @notice Structs and enums of the billing interfaces.
interface IBillingTypes {

    /// @notice Parameters of a new plan.
    /// @param name shown to customers; stored only in the PlanAdded event
    /// @param price charged per period, in token units
    /// @param period length of a billing period, in seconds (at least one day)
    /// @param trial free trial length in seconds for first-time subscribers of this plan (0 = none)
    /// @param grace seconds after a missed renewal during which the customer stays entitled (< period)
    /// @param maxStreams maximum concurrent streams the middleware should allow
    /// @param splitId revenue split applied to this plan's charges
    /// @param addOn true for an add-on: it rides on a base plan's billing period and is charged with it
    /// @param packages channel package ids this plan entitles to
    struct PlanParams {
        string name;
        uint256 price;
        uint32 period;
        uint32 trial;
        uint32 grace;
        uint16 maxStreams;
        uint16 splitId;
        bool addOn;
        uint256[] packages;
    }

    /// @notice A plan as stored.
    struct PlanView {
        uint256 price;
        uint32 period;
        uint32 trial;
        uint32 grace;
        uint16 maxStreams;
        uint16 splitId;
        uint8 addOnBit;
        bool active;
        uint256[] packages;
    }

    /// @notice Subscription state as a customer or the portal sees it.
    enum SubscriptionState {
        None,
        Trial,
        Active,
        Grace,
        Suspended,
        Cancelled,
        Ended
    }

    /// @notice Everything about one customer's account, for the portal and the operator console.
    struct AccountView {
        uint32 customerId;
        uint256 balance;
        uint16 planId;
        SubscriptionState state;
        uint40 paidThrough;
        uint40 graceEnds;
        uint256 maxPrice;
        uint256 paidPrice;
        uint16 pendingPlanId;
        uint16[] addOnPlanIds;
        uint16[] addOnsEnding;
        uint8 flags;
    }

    /// @notice The header of a signed usage batch. The oracle signs the EIP-712 struct
    /// `UsageBatch(uint64 batchId,uint64 deadline,uint16 meterId,uint32 windowStart,uint32 windowEnd,
    /// bytes32 recordsRoot,bytes lines)` in the domain ("StreamLedger Billing", "1", chain id, the billing
    /// address). `lines` packs each line as a 4-byte customer id and a 4-byte quantity (big-endian), exactly
    /// as settleUsage receives them. `recordsRoot` is the Merkle root that commits each line to the session
    /// records behind it (docs/usage-records.md).
    struct UsageBatch {
        uint64 batchId;
        uint64 deadline;
        uint16 meterId;
        uint32 windowStart;
        uint32 windowEnd;
        bytes32 recordsRoot;
    }

    /// @notice The header of a signed rental batch: `RentalBatch(uint64 batchId,uint64 deadline,bytes rentals)`,
    /// rentals packed as a 4-byte customer id, a 4-byte title id and a 5-byte first-play time each.
    struct RentalBatch {
        uint64 batchId;
        uint64 deadline;
    }

    /// @notice What a usage batch was settled with (from its UsageSettled event); a dispute restates it and
    /// the contract checks it against the batch's commitment.
    struct UsageSettlement {
        uint16 meterId;
        uint256 unitPrice;
        uint32 unitScale;
        uint16 splitId;
        uint32 releaseDay;
    }

    struct MeterView {
        uint256 unitPrice;
        uint32 unitScale;
        uint16 splitId;
        bool active;
    }

    struct PpvEventView {
        uint256 price;
        uint256 packageId;
        uint40 salesClose;
        uint40 viewStart;
        uint40 viewEnd;
        uint16 splitId;
    }

    struct VodTitleView {
        uint256 price;
        uint256 packageId;
        uint32 rentalSeconds;
        uint16 splitId;
        bool active;
    }

    /// @notice A charge's life: 0 none, 1 charged (pending in escrow), 2 disputed, 3 refunded, 4 upheld.
    struct ChargeView {
        uint256 amount;
        uint8 status;
        uint40 expiresAt;
        uint32 releaseDay;
    }

    /// @notice kind: 1 usage line, 2 pay-per-view, 3 rental. status: 1 open, 2 refunded, 3 upheld.
    struct DisputeView {
        address customer;
        uint8 kind;
        uint8 status;
        uint256 amount;
        uint16 splitId;
        uint32 objectId;
        bytes32 ref;
    }

    /// @notice One line of a customer's statement. Statement lines of a period are the leaves of the Merkle
    /// tree whose root the operator commits: leaf = keccak256(bytes.concat(keccak256(abi.encode(period,
    /// customer, index, kind, timestamp, amount, ref)))). kind: 1 opening balance, 2 deposit, 3 withdrawal,
    /// 4 subscription charge, 5 add-on charge, 6 plan-change credit, 7 refund, 8 usage charge, 9 pay-per-view,
    /// 10 rental, 11 dispute opened, 12 dispute refunded, 13 dispute upheld, 14 closing balance. amount is
    /// signed: what the line adds to (or takes from) the balance; for balances, the balance itself.
    /// ref: the transaction hash, or for a usage line the batch id and line index (docs/statements.md).
    struct StatementLine {
        address customer;
        uint32 index;
        uint8 kind;
        uint64 timestamp;
        int256 amount;
        bytes32 ref;
    }
}
