// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IBillingViews} from "../../interfaces/IBillingViews.sol";
import {BillingStorage} from "../BillingStorage.sol";
import {Account, AccountLib} from "../libraries/AccountLib.sol";

/// @title ViewModule
/// @notice Every read-only view of the billing system and the keeper's checkUpkeep. Runs only by
/// delegatecall from IptvBilling (at the end of the module chain), on its storage.
contract ViewModule is IBillingViews, BillingStorage {
    /// @inheritdoc IBillingViews
    function checkUpkeep(bytes calldata checkData)
        external
        view
        returns (bool upkeepNeeded, bytes memory performData)
    {
        uint16 planId;
        uint256 offset;
        uint256 scanLimit = 1000;
        uint256 maxBatch = 200;
        if (checkData.length != 0) {
            (planId, offset, scanLimit, maxBatch) = abi.decode(checkData, (uint16, uint32, uint32, uint32));
        }
        uint16 first = planId == 0 ? 1 : planId;
        uint16 last = planId == 0 ? _planCount : planId;
        for (uint16 p = first; p <= last && p != 0; ++p) {
            bytes memory due = _dueCustomers(p, offset, scanLimit, maxBatch);
            if (due.length != 0) return (true, abi.encode(p, due));
        }
        return (false, "");
    }

    /// @inheritdoc IBillingViews
    function expiresAt(address customer) external view returns (uint64) {
        return uint64(_account(_idOf(customer)).paidThrough());
    }

    /// @inheritdoc IBillingViews
    function expiresAt(address customer, uint256 planId) external view returns (uint64) {
        uint32 id = _idOf(customer);
        Account account = _account(id);
        if (id == 0 || planId == 0 || planId > _planCount) return 0;
        uint8 bit = _plans[uint16(planId)].addOnBit;
        bool holds = bit == 0 ? account.planId() == planId : account.addOns() & _mask(bit) != 0;
        return holds ? uint64(account.paidThrough()) : 0;
    }

    /// @inheritdoc IBillingViews
    function maxStreams(address customer) external view returns (uint16) {
        Account account = _account(_idOf(customer));
        uint16 planId = account.planId();
        if (planId == 0) return 0;
        Plan storage plan = _plans[planId];
        return _entitled(account, plan.grace) ? plan.maxStreams : 0;
    }

    /// @inheritdoc IBillingViews
    function accountOf(address customer) external view returns (AccountView memory v) {
        uint256 word = _ledger[customer];
        if (word & REGISTERED == 0) {
            v.balance = word;
            return v;
        }
        uint32 id = uint32(word);
        Account account = _account(id);
        v.customerId = id;
        v.balance = account.balance();
        v.planId = account.planId();
        v.flags = account.flags();
        if (v.planId == 0) return v;
        Plan storage plan = _plans[v.planId];
        Terms storage terms = _terms[id][v.planId];
        v.state = _state(account, plan.grace);
        v.paidThrough = uint40(account.paidThrough());
        v.graceEnds = account.flags() & (AccountLib.FLAG_CANCELLED | AccountLib.FLAG_PRICE_LAPSED | AccountLib.FLAG_TRIAL) == 0
            ? uint40(account.paidThrough() + plan.grace)
            : v.paidThrough;
        v.maxPrice = terms.maxPrice;
        v.paidPrice = terms.paidPrice;
        if (account.hasFlag(AccountLib.FLAG_DOWNGRADE_PENDING)) v.pendingPlanId = terms.pendingPlan;
        v.addOnPlanIds = _planIdsOf(account.addOns());
        v.addOnsEnding = _planIdsOf(account.addOnsEnding());
    }

    /// @inheritdoc IBillingViews
    function customerIdOf(address customer) external view returns (uint32) {
        return _idOf(customer);
    }

    /// @inheritdoc IBillingViews
    function customerAddress(uint32 customerId) external view returns (address) {
        return _customers[customerId];
    }

    /// @inheritdoc IBillingViews
    function customerCount() external view returns (uint32) {
        return uint32(_accounts.length - 1);
    }

    /// @inheritdoc IBillingViews
    function planOf(uint16 planId) external view returns (PlanView memory) {
        Plan storage plan = _planStorage(planId);
        return PlanView({
            price: plan.price,
            period: plan.period,
            trial: plan.trial,
            grace: plan.grace,
            maxStreams: plan.maxStreams,
            splitId: plan.splitId,
            addOnBit: plan.addOnBit,
            active: plan.active,
            packages: _planPackages[planId]
        });
    }

    /// @inheritdoc IBillingViews
    function planCount() external view returns (uint16) {
        return _planCount;
    }

    /// @inheritdoc IBillingViews
    function addOnPlan(uint8 bit) external view returns (uint16) {
        return _addOnPlans[bit];
    }

    /// @inheritdoc IBillingViews
    function subscribersOf(uint16 planId, uint256 offset, uint256 limit) external view returns (uint32[] memory ids) {
        uint32[] storage list = _subscribers[planId];
        uint256 end = offset + limit < list.length ? offset + limit : list.length;
        ids = new uint32[](end > offset ? end - offset : 0);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = list[offset + i];
        }
    }

    /// @inheritdoc IBillingViews
    function subscriberCount(uint16 planId) external view returns (uint256) {
        return _subscribers[planId].length;
    }

    /// @inheritdoc IBillingViews
    function providerPayout(uint16 providerId) external view returns (address) {
        return _payouts[providerId];
    }

    /// @inheritdoc IBillingViews
    function providerCount() external view returns (uint16) {
        return _providerCount;
    }

    /// @inheritdoc IBillingViews
    function splitOf(uint16 splitId) external view returns (uint16[] memory providerIds, uint16[] memory bps) {
        Split storage split = _splits[splitId];
        return (split.providerIds, split.bps);
    }

    /// @inheritdoc IBillingViews
    function splitCount() external view returns (uint16) {
        return _splitCount;
    }

    /// @inheritdoc IBillingViews
    function escrowOf(uint16 splitId, uint32 day) external view returns (uint256) {
        return _escrow[splitId][day];
    }

    /// @inheritdoc IBillingViews
    function earningsOf(address payee) external view returns (uint256) {
        return _earnings[payee];
    }

    /// @inheritdoc IBillingViews
    function priceEpoch() external view returns (uint16) {
        return _priceEpoch;
    }

    /// @inheritdoc IBillingViews
    function isSigner(address account) external view returns (bool) {
        return _signers[account];
    }

    /// @inheritdoc IBillingViews
    function signerCount() external view returns (uint8) {
        return _signerCount;
    }

    /// @inheritdoc IBillingViews
    function threshold() external view returns (uint8) {
        return _threshold;
    }

    /// @inheritdoc IBillingViews
    function disputeWindow() external view returns (uint32) {
        return _disputeWindow;
    }

    /// @inheritdoc IBillingViews
    function capPeriod() external view returns (uint32) {
        return _capPeriod;
    }

    /// @inheritdoc IBillingViews
    function capUnit() external view returns (uint256) {
        return _capUnit;
    }

    /// @inheritdoc IBillingViews
    function spendingCapOf(address customer)
        external
        view
        returns (uint256 cap, uint256 remaining, uint256 periodEnds)
    {
        uint32 id = _idOf(customer);
        Account account = _account(id);
        if (id == 0 || !account.hasFlag(AccountLib.FLAG_HAS_CAP)) return (0, 0, 0);
        cap = _caps[id];
        uint256 period = _capPeriod;
        uint256 epoch = (block.timestamp / period) & 0xffff;
        // In whole cap units, as the contract counts: a new period allows floor(cap / unit) units.
        uint256 units = account.capEpoch() == epoch ? account.capRemaining() : cap / _capUnit;
        remaining = units * _capUnit;
        periodEnds = (block.timestamp / period + 1) * period;
    }

    /// @inheritdoc IBillingViews
    function meterOf(uint16 meterId) external view returns (MeterView memory) {
        Meter storage meter = _meterStorage(meterId);
        return MeterView(meter.unitPrice, meter.unitScale, meter.splitId, meter.active);
    }

    /// @inheritdoc IBillingViews
    function meterCount() external view returns (uint16) {
        return _meterCount;
    }

    /// @inheritdoc IBillingViews
    function ppvEventOf(uint32 eventId) external view returns (PpvEventView memory) {
        PpvEvent storage ev = _ppvEvents[eventId];
        if (!ev.exists) revert Billing_UnknownPpvEvent(eventId);
        return PpvEventView(ev.price, _ppvPackages[eventId], ev.salesClose, ev.viewStart, ev.viewEnd, ev.splitId);
    }

    /// @inheritdoc IBillingViews
    function ppvEventCount() external view returns (uint32) {
        return _ppvCount;
    }

    /// @inheritdoc IBillingViews
    function ppvPurchaseOf(uint32 eventId, address customer) external view returns (ChargeView memory) {
        return _chargeView(_ppvPurchases[eventId][_idOf(customer)]);
    }

    /// @inheritdoc IBillingViews
    function vodTitleOf(uint32 titleId) external view returns (VodTitleView memory) {
        VodTitle storage title = _vodTitles[titleId];
        if (!title.exists) revert Billing_UnknownTitle(titleId);
        return VodTitleView(title.price, _vodPackages[titleId], title.rentalSeconds, title.splitId, title.active);
    }

    /// @inheritdoc IBillingViews
    function vodTitleCount() external view returns (uint32) {
        return _vodCount;
    }

    /// @inheritdoc IBillingViews
    function rentalOf(address customer, uint32 titleId) external view returns (ChargeView memory) {
        return _chargeView(_rentals[_idOf(customer)][titleId]);
    }

    /// @inheritdoc IBillingViews
    function batchCommitment(uint64 batchId) external view returns (bytes32) {
        return _batchCommitments[batchId];
    }

    /// @inheritdoc IBillingViews
    function batchSettled(uint64 batchId) external view returns (bool) {
        return _batchCommitments[batchId] != 0;
    }

    /// @inheritdoc IBillingViews
    function disputeOf(uint64 disputeId) external view returns (DisputeView memory) {
        Dispute storage d = _disputes[disputeId];
        if (d.kind == 0) revert Billing_UnknownDispute(disputeId);
        return DisputeView(
            _customers[d.customerId], d.kind, d.status, d.amount, d.splitId, d.objectId, _disputeRefs[disputeId]
        );
    }

    /// @inheritdoc IBillingViews
    function disputeCount() external view returns (uint64) {
        return _disputeCount;
    }

    /// @inheritdoc IBillingViews
    function disputeIdOf(bytes32 chargeKey) external view returns (uint64) {
        return _disputeOf[chargeKey];
    }

    /// @inheritdoc IBillingViews
    function customerIds(address[] calldata customers)
        external
        view
        returns (uint32[] memory ids, uint16[] memory streams)
    {
        ids = new uint32[](customers.length);
        streams = new uint16[](customers.length);
        for (uint256 i; i < customers.length; ++i) {
            uint32 id = _idOf(customers[i]);
            ids[i] = id;
            Account account = _account(id);
            uint16 planId = account.planId();
            if (planId != 0 && _entitled(account, _plans[planId].grace)) streams[i] = _plans[planId].maxStreams;
        }
    }

    /// @inheritdoc IBillingViews
    function verifyRecords(
        bytes32 root,
        uint256 lineIndex,
        uint32 customerId,
        bytes32 recordsHash,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        bytes32 leaf = keccak256(abi.encode(lineIndex, customerId, recordsHash));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IBillingViews
    function statementRoot(uint32 period)
        external
        view
        returns (bytes32 root, uint40 start, uint40 end, uint32 lines)
    {
        Statement storage statement = _statements[period];
        return (statement.root, statement.start, statement.end, statement.lines);
    }

    /// @inheritdoc IBillingViews
    function verifyStatementLine(uint32 period, StatementLine calldata line, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _statements[period].root;
        if (root == 0) return false;
        bytes32 leaf = keccak256(
            bytes.concat(
                keccak256(abi.encode(period, line.customer, line.index, line.kind, line.timestamp, line.amount, line.ref))
            )
        );
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    function _chargeView(Charge storage c) private view returns (ChargeView memory) {
        return ChargeView(c.amount, c.status, c.expiresAt, c.releaseDay);
    }

    function _meterStorage(uint16 meterId) private view returns (Meter storage meter) {
        meter = _meters[meterId];
        if (!meter.exists) revert Billing_UnknownMeter(meterId);
    }

    /// @dev Due customers of `planId` among `_subscribers[planId][offset : offset + scanLimit]`, packed as
    /// 4-byte ids, at most `maxBatch`. A customer already reported short is proposed again only once the
    /// balance covers the renewal.
    function _dueCustomers(uint16 planId, uint256 offset, uint256 scanLimit, uint256 maxBatch)
        private
        view
        returns (bytes memory due)
    {
        uint32[] storage list = _subscribers[planId];
        uint256 end = offset + scanLimit < list.length ? offset + scanLimit : list.length;
        if (end <= offset || maxBatch == 0) return "";
        Plan memory plan = _plans[planId];
        due = new bytes((end - offset < maxBatch ? end - offset : maxBatch) * 4);
        uint256 count;
        for (uint256 i = offset; i < end && count < maxBatch; ++i) {
            uint32 id = list[i];
            Account account = _account(id);
            if (account.planId() != planId || account.paidThrough() > block.timestamp) continue;
            if (account.flags() & (AccountLib.FLAG_CANCELLED | AccountLib.FLAG_PRICE_LAPSED) != 0) continue;
            if (account.hasFlag(AccountLib.FLAG_RENEWAL_FAILED)) {
                (, Plan memory target) = _renewalTarget(id, account, planId, plan);
                (, uint256 addOnTotal) = _renewableAddOns(id, account, target.period);
                if (account.balance() < target.price + addOnTotal) continue;
            }
            uint256 at = count * 4;
            assembly ("memory-safe") {
                mstore(add(add(due, 32), at), shl(224, id))
            }
            ++count;
        }
        assembly ("memory-safe") {
            mstore(due, mul(count, 4))
        }
    }
}
