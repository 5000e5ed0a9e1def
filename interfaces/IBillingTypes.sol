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
}
