// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IBillingCatalogue} from "../../interfaces/IBillingCatalogue.sol";
import {BillingStorage} from "../BillingStorage.sol";
import {Account, AccountLib} from "../libraries/AccountLib.sol";
import {BillingMath} from "../libraries/BillingMath.sol";

/// @title CatalogueModule
/// @notice The operator's catalogue (providers, splits, plans), pausing, the keeper's checkUpkeep and the
/// read-only views. Runs only by delegatecall from IptvBilling (through SubscriptionModule), on its storage.
contract CatalogueModule is IBillingCatalogue, BillingStorage {
    /// @inheritdoc IBillingCatalogue
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IBillingCatalogue
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @inheritdoc IBillingCatalogue
    function addProvider(address payout, string calldata name) external onlyRole(OPERATOR_ROLE) returns (uint16 providerId) {
        if (payout == address(0)) revert Billing_InvalidPayout();
        providerId = ++_providerCount;
        _payouts[providerId] = payout;
        emit ProviderAdded(providerId, payout, name);
    }

    /// @inheritdoc IBillingCatalogue
    function setProviderPayout(uint16 providerId, address payout) external onlyRole(OPERATOR_ROLE) {
        address previous = _payouts[providerId];
        if (previous == address(0)) revert Billing_UnknownProvider(providerId);
        if (payout == address(0)) revert Billing_InvalidPayout();
        _payouts[providerId] = payout;
        emit ProviderPayoutChanged(providerId, previous, payout);
    }

    /// @inheritdoc IBillingCatalogue
    function addSplit(uint16[] calldata providerIds, uint16[] calldata bps)
        external
        onlyRole(OPERATOR_ROLE)
        returns (uint16 splitId)
    {
        uint256 n = providerIds.length;
        if (n == 0 || n > MAX_SPLIT_ENTRIES || bps.length != n) revert Billing_InvalidSplit();
        uint256 total;
        for (uint256 i; i < n; ++i) {
            if (_payouts[providerIds[i]] == address(0)) revert Billing_UnknownProvider(providerIds[i]);
            if (bps[i] == 0) revert Billing_InvalidSplit();
            for (uint256 j; j < i; ++j) {
                if (providerIds[j] == providerIds[i]) revert Billing_InvalidSplit();
            }
            total += bps[i];
        }
        if (total != BillingMath.BPS) revert Billing_InvalidSplit();
        splitId = ++_splitCount;
        _splits[splitId] = Split(providerIds, bps);
        emit SplitAdded(splitId, providerIds, bps);
    }

    /// @inheritdoc IBillingCatalogue
    function addPlan(PlanParams calldata params) external onlyRole(OPERATOR_ROLE) returns (uint16 planId) {
        _checkPrice(params.price);
        if (params.period < MIN_PERIOD) revert Billing_InvalidPlan("period < 1 day");
        if (params.grace >= params.period) revert Billing_InvalidPlan("grace >= period");
        if (params.trial > 0 && params.addOn) revert Billing_InvalidPlan("add-ons have no trial");
        _checkSplit(params.splitId);
        uint8 addOnBit;
        if (params.addOn) {
            if (_addOnCount == MAX_ADDONS) revert Billing_TooManyAddOns();
            addOnBit = ++_addOnCount;
        }
        planId = ++_planCount;
        _plans[planId] = Plan({
            price: uint96(params.price),
            period: params.period,
            trial: params.trial,
            grace: params.grace,
            maxStreams: params.maxStreams,
            splitId: params.splitId,
            addOnBit: addOnBit,
            active: true,
            exists: true
        });
        if (addOnBit != 0) _addOnPlans[addOnBit] = planId;
        _replacePackages(planId, params.packages);
        emit PlanAdded(
            planId,
            params.name,
            params.price,
            params.period,
            params.trial,
            params.grace,
            params.maxStreams,
            params.splitId,
            addOnBit,
            params.packages
        );
    }

    /// @inheritdoc IBillingCatalogue
    function setPlanPrice(uint16 planId, uint256 price) external onlyRole(OPERATOR_ROLE) {
        Plan storage plan = _planStorage(planId);
        _checkPrice(price);
        uint256 previous = plan.price;
        plan.price = uint96(price);
        emit PlanPriceChanged(planId, previous, price, _bumpEpoch());
    }

    /// @inheritdoc IBillingCatalogue
    function setPlanActive(uint16 planId, bool active) external onlyRole(OPERATOR_ROLE) {
        _planStorage(planId).active = active;
        emit PlanActiveChanged(planId, active);
    }

    /// @inheritdoc IBillingCatalogue
    function setPlanPackages(uint16 planId, uint256[] calldata packages) external onlyRole(OPERATOR_ROLE) {
        _planStorage(planId);
        _replacePackages(planId, packages);
        emit PlanPackagesChanged(planId, packages);
    }

    /// @inheritdoc IBillingCatalogue
    function setPlanSplit(uint16 planId, uint16 splitId) external onlyRole(OPERATOR_ROLE) {
        Plan storage plan = _planStorage(planId);
        _checkSplit(splitId);
        plan.splitId = splitId;
        // A new epoch makes every subscriber's next renewal refresh the split its refunds come from.
        _bumpEpoch();
        emit PlanSplitChanged(planId, splitId);
    }

    /// @inheritdoc IBillingCatalogue
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

    /// @inheritdoc IBillingCatalogue
    function expiresAt(address customer) external view returns (uint64) {
        return uint64(_account(_idOf(customer)).paidThrough());
    }

    /// @inheritdoc IBillingCatalogue
    function expiresAt(address customer, uint256 planId) external view returns (uint64) {
        uint32 id = _idOf(customer);
        Account account = _account(id);
        if (id == 0 || planId == 0 || planId > _planCount) return 0;
        uint8 bit = _plans[uint16(planId)].addOnBit;
        bool holds = bit == 0 ? account.planId() == planId : account.addOns() & _mask(bit) != 0;
        return holds ? uint64(account.paidThrough()) : 0;
    }

    /// @inheritdoc IBillingCatalogue
    function maxStreams(address customer) external view returns (uint16) {
        Account account = _account(_idOf(customer));
        uint16 planId = account.planId();
        if (planId == 0) return 0;
        Plan storage plan = _plans[planId];
        return _entitled(account, plan.grace) ? plan.maxStreams : 0;
    }

    /// @inheritdoc IBillingCatalogue
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

    /// @inheritdoc IBillingCatalogue
    function customerIdOf(address customer) external view returns (uint32) {
        return _idOf(customer);
    }

    /// @inheritdoc IBillingCatalogue
    function customerAddress(uint32 customerId) external view returns (address) {
        return _customers[customerId];
    }

    /// @inheritdoc IBillingCatalogue
    function customerCount() external view returns (uint32) {
        return uint32(_accounts.length - 1);
    }

    /// @inheritdoc IBillingCatalogue
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

    /// @inheritdoc IBillingCatalogue
    function planCount() external view returns (uint16) {
        return _planCount;
    }

    /// @inheritdoc IBillingCatalogue
    function addOnPlan(uint8 bit) external view returns (uint16) {
        return _addOnPlans[bit];
    }

    /// @inheritdoc IBillingCatalogue
    function subscribersOf(uint16 planId, uint256 offset, uint256 limit) external view returns (uint32[] memory ids) {
        uint32[] storage list = _subscribers[planId];
        uint256 end = offset + limit < list.length ? offset + limit : list.length;
        ids = new uint32[](end > offset ? end - offset : 0);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = list[offset + i];
        }
    }

    /// @inheritdoc IBillingCatalogue
    function subscriberCount(uint16 planId) external view returns (uint256) {
        return _subscribers[planId].length;
    }

    /// @inheritdoc IBillingCatalogue
    function providerPayout(uint16 providerId) external view returns (address) {
        return _payouts[providerId];
    }

    /// @inheritdoc IBillingCatalogue
    function providerCount() external view returns (uint16) {
        return _providerCount;
    }

    /// @inheritdoc IBillingCatalogue
    function splitOf(uint16 splitId) external view returns (uint16[] memory providerIds, uint16[] memory bps) {
        Split storage split = _splits[splitId];
        return (split.providerIds, split.bps);
    }

    /// @inheritdoc IBillingCatalogue
    function splitCount() external view returns (uint16) {
        return _splitCount;
    }

    /// @inheritdoc IBillingCatalogue
    function escrowOf(uint16 splitId, uint32 day) external view returns (uint256) {
        return _escrow[splitId][day];
    }

    /// @inheritdoc IBillingCatalogue
    function earningsOf(address payee) external view returns (uint256) {
        return _earnings[payee];
    }

    /// @inheritdoc IBillingCatalogue
    function priceEpoch() external view returns (uint16) {
        return _priceEpoch;
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

    function _checkPrice(uint256 price) private pure {
        if (price == 0 || price > AccountLib.MAX_BALANCE) revert Billing_InvalidPlan("price out of range");
    }

    function _checkSplit(uint16 splitId) private view {
        if (splitId == 0 || splitId > _splitCount) revert Billing_UnknownSplit(splitId);
    }

    /// @dev Checked on purpose: a wrapping epoch would let a stale account pass for current and skip its
    /// maxPrice check. 65,535 price or split changes per deployment is the limit.
    function _bumpEpoch() private returns (uint16) {
        return ++_priceEpoch;
    }

    function _replacePackages(uint16 planId, uint256[] calldata packages) private {
        if (packages.length > MAX_PACKAGES) revert Billing_InvalidPlan("too many packages");
        uint256[] storage current = _planPackages[planId];
        for (uint256 i; i < current.length; ++i) {
            delete _planIncludes[planId][current[i]];
        }
        for (uint256 i; i < packages.length; ++i) {
            _planIncludes[planId][packages[i]] = true;
        }
        _planPackages[planId] = packages;
    }
}
