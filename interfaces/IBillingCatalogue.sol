// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingErrors} from "./IBillingErrors.sol";
import {IBillingEvents} from "./IBillingEvents.sol";
import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingCatalogue
/// @notice The operator's and admin's writes: catalogue, oracle signers, settings, pausing (implemented by
/// CatalogueModule, reached through IptvBilling).
interface IBillingCatalogue is IBillingTypes, IBillingErrors, IBillingEvents {
    /// @notice Stops charges, deposits, escrow releases and provider withdrawals. Customers keep withdrawing
    /// their balances, cancelling and taking refunds.
    /// @dev Emits Paused. Requirements: PAUSER_ROLE.
    function pause() external;

    /// @notice Lifts a pause. Takes the admin, not just a pauser: a pause is cheap to trigger, costly to lift.
    /// @dev Emits Unpaused. Requirements: DEFAULT_ADMIN_ROLE.
    function unpause() external;

    /// @notice Registers a content owner, reseller or the platform as a revenue recipient.
    /// @dev Emits ProviderAdded. Requirements: caller has OPERATOR_ROLE; `payout` is not zero.
    /// @return providerId the new provider's id (from 1)
    function addProvider(address payout, string calldata name) external returns (uint16 providerId);

    /// @notice Changes where a provider's future earnings are credited. Earnings already credited stay
    /// withdrawable by the previous payout address.
    /// @dev Emits ProviderPayoutChanged. Requirements: OPERATOR_ROLE; provider exists; payout not zero.
    function setProviderPayout(uint16 providerId, address payout) external;

    /// @notice Creates an immutable revenue split. The first entry receives the rounding remainder.
    /// @dev Emits SplitAdded. Requirements: OPERATOR_ROLE; 1 to 8 entries; known, distinct providers;
    /// every share positive; shares sum to 10,000 basis points.
    function addSplit(uint16[] calldata providerIds, uint16[] calldata bps) external returns (uint16 splitId);

    /// @notice Adds a plan to the catalogue, active from now.
    /// @dev Emits PlanAdded. Requirements: OPERATOR_ROLE; price > 0 and fits the balance type;
    /// period >= 1 day; grace < period; split exists; at most 64 packages; add-ons take one of 16 slots.
    function addPlan(PlanParams calldata params) external returns (uint16 planId);

    /// @notice Sets a plan's price from the next renewal on. Subscribers whose maxPrice is below the new
    /// price keep their paid period and are not renewed (RenewalDeclined); they can accept it with setMaxPrice.
    /// @dev Emits PlanPriceChanged; starts a new catalogue price epoch. Requirements: OPERATOR_ROLE; plan
    /// exists; price > 0 and fits the balance type.
    function setPlanPrice(uint16 planId, uint256 price) external;

    /// @notice An inactive plan takes no new subscribers; existing subscribers keep renewing.
    /// @dev Emits PlanActiveChanged. Requirements: OPERATOR_ROLE; plan exists.
    function setPlanActive(uint16 planId, bool active) external;

    /// @notice Replaces the set of packages a plan entitles to (a channel line-up change), effective now.
    /// @dev Emits PlanPackagesChanged. Requirements: OPERATOR_ROLE; plan exists; at most 64 packages.
    function setPlanPackages(uint16 planId, uint256[] calldata packages) external;

    /// @notice Sets the split that receives the plan's future charges. Escrowed money keeps its split.
    /// @dev Emits PlanSplitChanged. Requirements: OPERATOR_ROLE; plan and split exist.
    function setPlanSplit(uint16 planId, uint16 splitId) external;

    // ----- oracle, meters, pay-per-view and VOD catalogue (usage) -----

    /// @notice Adds and removes oracle signers and sets the threshold, in one event-logged step.
    /// @dev Emits SignerAdded / SignerRemoved / ThresholdChanged. Requirements: DEFAULT_ADMIN_ROLE;
    /// 1 <= threshold <= signers after the change; no zero address.
    function setSigners(address[] calldata add, address[] calldata remove, uint8 threshold) external;

    /// @notice How long metered, rental and pay-per-view charges stay disputable (seconds, at most 90 days).
    /// @dev Emits DisputeWindowChanged. Requirements: DEFAULT_ADMIN_ROLE.
    function setDisputeWindow(uint32 window) external;

    /// @notice Length of a spending-cap period (seconds, from 1 hour to 366 days); caps reset each period.
    /// @dev Emits CapPeriodChanged. Requirements: DEFAULT_ADMIN_ROLE.
    function setCapPeriod(uint32 period) external;

    /// @notice Adds a meter: a usage line of `quantity` units costs ceil(quantity * unitPrice / unitScale).
    /// @dev Emits MeterAdded. Requirements: OPERATOR_ROLE; unitPrice in (0, 2^80); unitScale > 0; split exists.
    function addMeter(string calldata name, uint256 unitPrice, uint32 unitScale, uint16 splitId)
        external
        returns (uint16 meterId);

    /// @notice Sets a meter's unit price for batches settled from now on.
    function setMeterPrice(uint16 meterId, uint256 unitPrice) external;

    function setMeterActive(uint16 meterId, bool active) external;

    /// @notice Adds a pay-per-view event: sold until `salesClose` (at most the event start), watchable during
    /// [viewStart, viewEnd). The package id must be new.
    /// @dev Emits PpvEventAdded. Requirements: OPERATOR_ROLE.
    function addPpvEvent(
        string calldata name,
        uint256 price,
        uint256 packageId,
        uint40 salesClose,
        uint40 viewStart,
        uint40 viewEnd,
        uint16 splitId
    ) external returns (uint32 eventId);

    /// @notice Adds a VOD title rented for `rentalSeconds` from first play.
    /// @dev Emits VodTitleAdded. Requirements: OPERATOR_ROLE; the package id must be new.
    function addVodTitle(string calldata name, uint256 price, uint256 packageId, uint32 rentalSeconds, uint16 splitId)
        external
        returns (uint32 titleId);

    function setVodTitleActive(uint32 titleId, bool active) external;


    // ----- statements -----

    /// @notice Commits the Merkle root of every customer's statement lines for `period` (for example 202611
    /// for November 2026), covering [start, end). Once per period: a committed root is never replaced.
    /// @dev Emits StatementRootCommitted. Requirements: OPERATOR_ROLE; end > start; root not zero; lines > 0.
    function commitStatementRoot(uint32 period, uint40 start, uint40 end, bytes32 root, uint32 lines) external;
}
