// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Proxy} from "@openzeppelin/contracts/proxy/Proxy.sol";

import {IBillingCatalogue} from "../../interfaces/IBillingCatalogue.sol";
import {BillingStorage} from "../BillingStorage.sol";
import {AccountLib} from "../libraries/AccountLib.sol";
import {BillingMath} from "../libraries/BillingMath.sol";

/// @title CatalogueModule
/// @notice The operator's and admin's writes: providers, splits, plans, meters, the pay-per-view and VOD
/// catalogue, oracle signers, settings, and pausing. Runs only by delegatecall from IptvBilling (through
/// the module chain), on its storage; calls it does not implement go on to ViewModule.
contract CatalogueModule is IBillingCatalogue, BillingStorage, Proxy {
    address private immutable _next;

    constructor(address viewModule) {
        if (viewModule == address(0)) revert Billing_InvalidSetting("next module");
        _next = viewModule;
    }

    function _implementation() internal view override returns (address) {
        return _next;
    }

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
    function setSigners(address[] calldata add, address[] calldata remove, uint8 threshold_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        uint256 count = _signerCount;
        for (uint256 i; i < remove.length; ++i) {
            if (_signers[remove[i]]) {
                _signers[remove[i]] = false;
                --count;
                emit SignerRemoved(remove[i]);
            }
        }
        for (uint256 i; i < add.length; ++i) {
            if (add[i] == address(0)) revert Billing_InvalidSetting("zero signer");
            if (!_signers[add[i]]) {
                _signers[add[i]] = true;
                ++count;
                emit SignerAdded(add[i]);
            }
        }
        if (threshold_ == 0 || threshold_ > count) revert Billing_InvalidThreshold(threshold_, count);
        _signerCount = uint8(count);
        _threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }

    /// @inheritdoc IBillingCatalogue
    function setDisputeWindow(uint32 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (window > 90 days) revert Billing_InvalidSetting("dispute window > 90 days");
        _disputeWindow = window;
        emit DisputeWindowChanged(window);
    }

    /// @inheritdoc IBillingCatalogue
    function setCapPeriod(uint32 period) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (period < 1 hours || period > 366 days) revert Billing_InvalidSetting("cap period");
        _capPeriod = period;
        emit CapPeriodChanged(period);
    }

    /// @inheritdoc IBillingCatalogue
    function addMeter(string calldata name, uint256 unitPrice, uint32 unitScale, uint16 splitId)
        external
        onlyRole(OPERATOR_ROLE)
        returns (uint16 meterId)
    {
        _checkMeterPrice(unitPrice);
        if (unitScale == 0) revert Billing_InvalidMeter("unit scale 0");
        _checkSplit(splitId);
        meterId = ++_meterCount;
        _meters[meterId] =
            Meter({unitPrice: uint96(unitPrice), unitScale: unitScale, splitId: splitId, active: true, exists: true});
        emit MeterAdded(meterId, name, unitPrice, unitScale, splitId);
    }

    /// @inheritdoc IBillingCatalogue
    function setMeterPrice(uint16 meterId, uint256 unitPrice) external onlyRole(OPERATOR_ROLE) {
        Meter storage meter = _meterStorage(meterId);
        _checkMeterPrice(unitPrice);
        emit MeterPriceChanged(meterId, meter.unitPrice, unitPrice);
        meter.unitPrice = uint96(unitPrice);
    }

    /// @inheritdoc IBillingCatalogue
    function setMeterActive(uint16 meterId, bool active) external onlyRole(OPERATOR_ROLE) {
        _meterStorage(meterId).active = active;
        emit MeterActiveChanged(meterId, active);
    }

    /// @inheritdoc IBillingCatalogue
    function addPpvEvent(
        string calldata name,
        uint256 price,
        uint256 packageId,
        uint40 salesClose,
        uint40 viewStart,
        uint40 viewEnd,
        uint16 splitId
    ) external onlyRole(OPERATOR_ROLE) returns (uint32 eventId) {
        _checkPrice(price);
        _checkSplit(splitId);
        if (salesClose > viewStart || viewStart >= viewEnd || viewEnd <= block.timestamp) {
            revert Billing_InvalidPpvEvent("windows");
        }
        eventId = ++_ppvCount;
        _claimPackage(packageId, PACKAGE_PPV | eventId);
        _ppvEvents[eventId] = PpvEvent({
            price: uint96(price),
            salesClose: salesClose,
            viewStart: viewStart,
            viewEnd: viewEnd,
            splitId: splitId,
            exists: true
        });
        _ppvPackages[eventId] = packageId;
        emit PpvEventAdded(eventId, name, price, packageId, salesClose, viewStart, viewEnd, splitId);
    }

    /// @inheritdoc IBillingCatalogue
    function addVodTitle(string calldata name, uint256 price, uint256 packageId, uint32 rentalSeconds, uint16 splitId)
        external
        onlyRole(OPERATOR_ROLE)
        returns (uint32 titleId)
    {
        _checkPrice(price);
        _checkSplit(splitId);
        if (rentalSeconds == 0) revert Billing_InvalidTitle("rental window 0");
        titleId = ++_vodCount;
        _claimPackage(packageId, PACKAGE_VOD | titleId);
        _vodTitles[titleId] = VodTitle({
            price: uint96(price),
            rentalSeconds: rentalSeconds,
            splitId: splitId,
            active: true,
            exists: true
        });
        _vodPackages[titleId] = packageId;
        emit VodTitleAdded(titleId, name, price, packageId, rentalSeconds, splitId);
    }

    /// @inheritdoc IBillingCatalogue
    function setVodTitleActive(uint32 titleId, bool active) external onlyRole(OPERATOR_ROLE) {
        if (!_vodTitles[titleId].exists) revert Billing_UnknownTitle(titleId);
        _vodTitles[titleId].active = active;
        emit VodTitleActiveChanged(titleId, active);
    }

    function _meterStorage(uint16 meterId) private view returns (Meter storage meter) {
        meter = _meters[meterId];
        if (!meter.exists) revert Billing_UnknownMeter(meterId);
    }

    function _checkMeterPrice(uint256 unitPrice) private pure {
        if (unitPrice == 0 || unitPrice > AccountLib.MAX_BALANCE) revert Billing_InvalidMeter("unit price out of range");
    }

    function _claimPackage(uint256 packageId, uint64 ref) private {
        if (packageId == 0 || _packageRef[packageId] != 0 || _packagePlans[packageId] != 0) {
            revert Billing_PackageTaken(packageId);
        }
        _packageRef[packageId] = ref;
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

    /// @inheritdoc IBillingCatalogue
    function commitStatementRoot(uint32 period, uint40 start, uint40 end, bytes32 root, uint32 lines)
        external
        onlyRole(OPERATOR_ROLE)
    {
        if (_statements[period].root != 0) revert Billing_StatementAlreadyCommitted(period);
        if (end <= start || root == 0 || lines == 0) revert Billing_InvalidStatement();
        _statements[period] = Statement(root, start, end, lines);
        emit StatementRootCommitted(period, start, end, root, lines);
    }

    /// @dev A package id belongs either to plans (any number of them) or to one PPV event or VOD title.
    function _replacePackages(uint16 planId, uint256[] calldata packages) private {
        if (packages.length > MAX_PACKAGES) revert Billing_InvalidPlan("too many packages");
        uint256[] storage current = _planPackages[planId];
        for (uint256 i; i < current.length; ++i) {
            if (_planIncludes[planId][current[i]]) {
                delete _planIncludes[planId][current[i]];
                --_packagePlans[current[i]];
            }
        }
        for (uint256 i; i < packages.length; ++i) {
            uint256 packageId = packages[i];
            if (_packageRef[packageId] != 0) revert Billing_PackageTaken(packageId);
            if (!_planIncludes[planId][packageId]) {
                _planIncludes[planId][packageId] = true;
                ++_packagePlans[packageId];
            }
        }
        _planPackages[planId] = packages;
    }
}
