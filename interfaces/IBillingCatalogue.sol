// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingErrors} from "./IBillingErrors.sol";
import {IBillingEvents} from "./IBillingEvents.sol";
import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingCatalogue
/// @notice The catalogue, pausing, the keeper check and the views (implemented by CatalogueModule, reached
/// through IptvBilling).
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

    /// @notice Chainlink Automation compatible check. `checkData` is empty (all plans, defaults) or
    /// abi.encode(uint16 planId, uint32 offset, uint32 scanLimit, uint32 maxBatch). Scans at most
    /// `scanLimit` subscribers of the plan from `offset` and returns the due ones that can pay, or that
    /// have not been reported short yet, as `performData` = abi.encode(uint16 planId, bytes customerIds).
    function checkUpkeep(bytes calldata checkData) external view returns (bool upkeepNeeded, bytes memory performData);

    /// @notice ERC-5643 style: when the customer's access to their base plan ends (0 = no subscription).
    /// Grace is not included.
    function expiresAt(address customer) external view returns (uint64);

    /// @notice When the customer's access to `planId` (base or add-on) ends; 0 when not held.
    function expiresAt(address customer, uint256 planId) external view returns (uint64);

    /// @notice Concurrent streams the customer's base plan allows while entitled; 0 otherwise.
    function maxStreams(address customer) external view returns (uint16);

    /// @notice The full account view for the portal.
    function accountOf(address customer) external view returns (AccountView memory);

    /// @notice Customer id of `customer` (0 when not registered).
    function customerIdOf(address customer) external view returns (uint32);

    /// @notice Address of customer `customerId`.
    function customerAddress(uint32 customerId) external view returns (address);

    /// @notice Number of registered customers (ids run from 1 to this).
    function customerCount() external view returns (uint32);

    function planOf(uint16 planId) external view returns (PlanView memory);

    function planCount() external view returns (uint16);

    /// @notice Plan holding add-on slot `bit` (1..16); 0 when free.
    function addOnPlan(uint8 bit) external view returns (uint16);

    /// @notice Subscribers of a base plan that renewals consider, from `offset`, at most `limit`.
    function subscribersOf(uint16 planId, uint256 offset, uint256 limit) external view returns (uint32[] memory);

    function subscriberCount(uint16 planId) external view returns (uint256);

    function providerPayout(uint16 providerId) external view returns (address);

    function providerCount() external view returns (uint16);

    function splitOf(uint16 splitId) external view returns (uint16[] memory providerIds, uint16[] memory bps);

    function splitCount() external view returns (uint16);

    /// @notice Money held in escrow bucket (splitId, day).
    function escrowOf(uint16 splitId, uint32 day) external view returns (uint256);

    /// @notice Released provider earnings waiting for `payee` to withdraw.
    function earningsOf(address payee) external view returns (uint256);

    /// @notice The catalogue price epoch; it increases with every plan price change.
    function priceEpoch() external view returns (uint16);
}
