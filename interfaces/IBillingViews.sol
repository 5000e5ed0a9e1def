// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingErrors} from "./IBillingErrors.sol";
import {IBillingEvents} from "./IBillingEvents.sol";
import {IBillingTypes} from "./IBillingTypes.sol";

/// @title IBillingViews
/// @notice Every read-only view and the Chainlink-compatible checkUpkeep (implemented by ViewModule,
/// reached through IptvBilling).
interface IBillingViews is IBillingTypes, IBillingErrors, IBillingEvents {
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

    function isSigner(address account) external view returns (bool);

    function signerCount() external view returns (uint8);

    function threshold() external view returns (uint8);

    function disputeWindow() external view returns (uint32);

    function capPeriod() external view returns (uint32);

    /// @notice Token units per cap unit (1 for tokens with up to 6 decimals).
    function capUnit() external view returns (uint256);

    /// @notice The caller's cap, what is left of it in the current cap period (token units, rounded down),
    /// and when that period ends. (0, 0, 0) without a cap.
    function spendingCapOf(address customer)
        external
        view
        returns (uint256 cap, uint256 remaining, uint256 periodEnds);

    function meterOf(uint16 meterId) external view returns (MeterView memory);

    function meterCount() external view returns (uint16);

    function ppvEventOf(uint32 eventId) external view returns (PpvEventView memory);

    function ppvEventCount() external view returns (uint32);

    function ppvPurchaseOf(uint32 eventId, address customer) external view returns (ChargeView memory);

    function vodTitleOf(uint32 titleId) external view returns (VodTitleView memory);

    function vodTitleCount() external view returns (uint32);

    function rentalOf(address customer, uint32 titleId) external view returns (ChargeView memory);

    /// @notice The commitment a settled usage batch stored (0: never settled).
    function batchCommitment(uint64 batchId) external view returns (bytes32);

    /// @notice True once rental batch or usage batch `batchId` was settled.
    function batchSettled(uint64 batchId) external view returns (bool);

    function disputeOf(uint64 disputeId) external view returns (DisputeView memory);

    function disputeCount() external view returns (uint64);

    /// @notice The dispute opened on a charge (0: none). Keys: usage keccak256(abi.encode(1, batchId,
    /// lineIndex)); PPV keccak256(abi.encode(2, eventId, customerId, purchaseNumber)), purchaseNumber counting
    /// the customer's purchases of the event from 1; rental keccak256(abi.encode(3,
    /// batchId, customerId, titleId)).
    function disputeIdOf(bytes32 chargeKey) external view returns (uint64);

    /// @notice Customer ids and the streams their plan allows, for many addresses at once (the usage feeder
    /// resolves its whole input with a few calls). 0 id = not registered.
    function customerIds(address[] calldata customers)
        external
        view
        returns (uint32[] memory ids, uint16[] memory streams);

    /// @notice Checks that `recordsHash` is line `lineIndex` (customer `customerId`) of a batch whose signed
    /// records root is `root`. Leaf = keccak256(abi.encode(lineIndex, customerId, recordsHash)), OpenZeppelin
    /// MerkleProof (sorted pairs). One hash suffices: a 96-byte leaf preimage can never pass for an inner
    /// node (64 bytes) without a keccak collision.
    function verifyRecords(
        bytes32 root,
        uint256 lineIndex,
        uint32 customerId,
        bytes32 recordsHash,
        bytes32[] calldata proof
    ) external pure returns (bool);

    /// @notice The statement root committed for `period` (root 0: none).
    function statementRoot(uint32 period)
        external
        view
        returns (bytes32 root, uint40 start, uint40 end, uint32 lines);

    /// @notice True when `line` is in `period`'s committed statement tree (OpenZeppelin MerkleProof).
    function verifyStatementLine(uint32 period, StatementLine calldata line, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
