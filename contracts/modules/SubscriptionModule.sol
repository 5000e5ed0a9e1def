// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Proxy} from "@openzeppelin/contracts/proxy/Proxy.sol";

import {IBillingSubscriptions} from "../../interfaces/IBillingSubscriptions.sol";
import {BillingStorage} from "../BillingStorage.sol";
import {Account, AccountLib} from "../libraries/AccountLib.sol";
import {BillingMath} from "../libraries/BillingMath.sol";

/// @title SubscriptionModule
/// @notice Subscribing, cancelling, plan changes and escrow release. Runs only by delegatecall from
/// IptvBilling, on its storage; calls it does not implement go on to the CatalogueModule. Called directly,
/// it acts on its own empty storage and holds no funds.
contract SubscriptionModule is IBillingSubscriptions, BillingStorage, Proxy {
    address private immutable _next;

    constructor(address catalogueModule) {
        if (catalogueModule == address(0)) revert Billing_InvalidSetting("next module");
        _next = catalogueModule;
    }

    /// @inheritdoc IBillingSubscriptions
    function register(address customer) external returns (uint32 customerId) {
        return _register(customer);
    }

    /// @inheritdoc IBillingSubscriptions
    function subscribe(uint256 planIdArg, uint256 maxPriceArg) external whenNotPaused {
        uint16 planId = _planId(planIdArg);
        Plan memory plan = _plans[planId];
        if (!plan.active) revert Billing_PlanInactive(planId);
        uint80 maxPrice = _clampPrice(maxPriceArg);
        if (plan.price > maxPrice) revert Billing_PriceAboveMax(planId, plan.price, maxPrice);
        uint32 id = _register(msg.sender);
        if (plan.addOnBit != 0) {
            _subscribeAddOn(id, planId, plan, maxPrice);
        } else {
            _subscribeBase(id, planId, plan, maxPrice);
        }
    }

    /// @inheritdoc IBillingSubscriptions
    function setMaxPrice(uint256 planIdArg, uint256 maxPriceArg) external {
        uint16 planId = _planId(planIdArg);
        uint32 id = _idOf(msg.sender);
        Account account = _account(id);
        uint80 maxPrice = _clampPrice(maxPriceArg);
        uint8 bit = _plans[planId].addOnBit;
        bool holds = bit == 0 ? (id != 0 && account.planId() == planId) : (account.addOns() & _mask(bit) != 0);
        if (!holds) revert Billing_NotSubscribed(msg.sender, planId);
        _terms[id][planId].maxPrice = maxPrice;
        // The next renewal re-checks every price against the customer's maxima, whatever the epoch says.
        account = account.withFlag(AccountLib.FLAG_RECHECK);
        if (bit == 0 && account.hasFlag(AccountLib.FLAG_PRICE_LAPSED) && _plans[planId].price <= maxPrice) {
            account = account.withoutFlag(AccountLib.FLAG_PRICE_LAPSED);
            // The lapsed time was not paid for and not watched: the next renewal starts a fresh period.
            if (account.paidThrough() < block.timestamp) account = account.withPaidThrough(block.timestamp);
        }
        _store(id, account);
        emit MaxPriceChanged(msg.sender, planId, maxPrice);
    }

    /// @inheritdoc IBillingSubscriptions
    function cancel(uint256 planIdArg) external {
        uint16 planId = _planId(planIdArg);
        uint32 id = _idOf(msg.sender);
        Account account = _account(id);
        if (id != 0 && account.planId() == planId && _plans[planId].addOnBit == 0) {
            if (account.hasFlag(AccountLib.FLAG_CANCELLED)) revert Billing_NotSubscribed(msg.sender, planId);
            _terms[id][planId].pendingPlan = 0;
            _unlist(id, planId);
            account = account.withFlag(AccountLib.FLAG_CANCELLED).withoutFlag(AccountLib.FLAG_DOWNGRADE_PENDING);
            // Add-ons ride on the base period: they end with it.
            _store(id, account.withAddOns(account.addOns(), account.addOns()));
        } else {
            uint16 mask = _mask(_plans[planId].addOnBit);
            if (id == 0 || mask == 0 || account.addOns() & mask == 0 || account.addOnsEnding() & mask != 0) {
                revert Billing_NotSubscribed(msg.sender, planId);
            }
            _store(id, account.withAddOns(account.addOns(), account.addOnsEnding() | mask));
        }
        emit Cancelled(msg.sender, planId, uint40(account.paidThrough()));
    }

    /// @inheritdoc IBillingSubscriptions
    function cancelNow(uint256 planIdArg) external {
        uint16 planId = _planId(planIdArg);
        uint32 id = _idOf(msg.sender);
        Account account = _account(id);
        uint256 paidThrough = account.paidThrough();
        uint256 remaining = paidThrough > block.timestamp ? paidThrough - block.timestamp : 0;
        bool trial = account.hasFlag(AccountLib.FLAG_TRIAL);
        uint256 refund;
        if (id != 0 && account.planId() == planId && _plans[planId].addOnBit == 0) {
            if (account.hasFlag(AccountLib.FLAG_CANCELLED) && remaining == 0) {
                revert Billing_NotSubscribed(msg.sender, planId);
            }
            uint256 period = _plans[planId].period;
            // A trial period was not paid for, nor were add-ons taken during it: nothing to refund.
            if (!trial) refund = _refundPlan(id, planId, paidThrough, remaining, period);
            for (uint16 mask = account.addOns(); mask != 0; mask &= mask - 1) {
                uint16 addOnId = _addOnPlans[_lowestBit(mask)];
                if (!trial) refund += _refundPlan(id, addOnId, paidThrough, remaining, period);
                emit AddOnEnded(msg.sender, addOnId, ADDON_END_REFUNDED);
            }
            _terms[id][planId].pendingPlan = 0;
            _unlist(id, planId);
            account = account.withFlag(AccountLib.FLAG_CANCELLED).withoutFlag(AccountLib.FLAG_DOWNGRADE_PENDING)
                .withAddOns(0, 0);
            if (remaining != 0) account = account.withPaidThrough(block.timestamp);
            emit Cancelled(msg.sender, planId, uint40(account.paidThrough()));
        } else {
            uint16 mask = _mask(_plans[planId].addOnBit);
            if (id == 0 || mask == 0 || account.addOns() & mask == 0) revert Billing_NotSubscribed(msg.sender, planId);
            if (!trial) refund = _refundPlan(id, planId, paidThrough, remaining, _plans[planId].period);
            account = account.withAddOns(account.addOns() & ~mask, account.addOnsEnding() & ~mask);
            emit AddOnEnded(msg.sender, planId, ADDON_END_REFUNDED);
        }
        _store(id, _creditAccount(msg.sender, account, refund));
    }

    /// @inheritdoc IBillingSubscriptions
    function changePlan(uint256 newPlanIdArg, uint256 maxPriceArg) external whenNotPaused {
        uint16 to = _planId(newPlanIdArg);
        uint32 id = _idOf(msg.sender);
        Account account = _account(id);
        uint16 from = account.planId();
        uint256 paidThrough = account.paidThrough();
        if (
            id == 0 || from == 0 || paidThrough <= block.timestamp
                || account.flags() & (AccountLib.FLAG_CANCELLED | AccountLib.FLAG_PRICE_LAPSED) != 0
        ) revert Billing_NotSubscribed(msg.sender, from);
        Plan memory oldPlan = _plans[from];
        Plan memory newPlan = _plans[to];
        if (to == from || newPlan.addOnBit != 0 || newPlan.period != oldPlan.period) {
            revert Billing_IncompatiblePlanChange(from, to);
        }
        if (!newPlan.active) revert Billing_PlanInactive(to);
        uint80 maxPrice = _clampPrice(maxPriceArg);
        if (newPlan.price > maxPrice) revert Billing_PriceAboveMax(to, newPlan.price, maxPrice);

        Terms storage oldTerms = _terms[id][from];
        Terms storage newTerms = _terms[id][to];
        bool trial = account.hasFlag(AccountLib.FLAG_TRIAL);
        if (!trial && newPlan.price < oldTerms.paidPrice) {
            // Downgrade: the paid period is kept as bought; the cheaper plan starts at the next renewal.
            oldTerms.pendingPlan = to;
            newTerms.maxPrice = maxPrice;
            _store(id, account.withFlag(AccountLib.FLAG_DOWNGRADE_PENDING));
            emit PlanChangeScheduled(msg.sender, from, to, uint40(paidThrough));
            return;
        }
        _upgrade(id, account, from, to, newPlan, maxPrice);
    }

    /// @inheritdoc IBillingSubscriptions
    function releaseEscrow(uint16 splitId, uint32 day) external whenNotPaused {
        uint256 releasableAt = uint256(day) * BillingMath.DAY;
        if (block.timestamp < releasableAt) revert Billing_EscrowNotReleasable(splitId, day, releasableAt);
        uint256 amount = _escrow[splitId][day];
        if (amount == 0) return;
        _escrow[splitId][day] = 0;
        emit EscrowReleased(splitId, day, amount);
        _creditSplit(splitId, amount);
    }

    function _implementation() internal view override returns (address) {
        return _next;
    }

    function _subscribeBase(uint32 id, uint16 planId, Plan memory plan, uint80 maxPrice) private {
        Account account = _account(id);
        Terms storage terms = _terms[id][planId];
        {
            uint16 current = account.planId();
            if (current != 0 && _live(account, _plans[current].grace)) {
                if (current != planId || !account.hasFlag(AccountLib.FLAG_CANCELLED)) {
                    revert Billing_AlreadySubscribed(msg.sender, current);
                }
                _resume(id, planId, account, terms, maxPrice);
                return;
            }
            if (current != 0) _unlist(id, current);
        }
        bool trial = plan.trial != 0 && !terms.trialUsed;
        uint256 paidThrough = block.timestamp + (trial ? plan.trial : plan.period);
        uint32 day;
        if (!trial) {
            uint256 balance = account.balance();
            if (balance < plan.price) revert Billing_InsufficientBalance(msg.sender, plan.price, balance);
            account = account.withBalance(balance - plan.price);
            day = BillingMath.releaseDay(paidThrough);
            _escrow[plan.splitId][day] += plan.price;
        }
        // A new subscription starts clean: only the customer's own settings (the cap flag) carry over.
        account = account.withoutFlag(type(uint8).max & ~AccountLib.FLAG_HAS_CAP);
        if (trial) account = account.withFlag(AccountLib.FLAG_TRIAL);
        account = account.withPlanId(planId).withPaidThrough(paidThrough);
        account = account.withPriceEpoch(_priceEpoch).withAddOns(0, 0);
        _store(id, account);
        terms.maxPrice = maxPrice;
        _setChargeTerms(terms, plan);
        terms.pendingPlan = 0;
        if (trial) terms.trialUsed = true;
        _list(id, planId, terms);
        emit Subscribed(
            msg.sender, planId, trial ? 0 : plan.price, maxPrice, uint40(paidThrough), trial, plan.splitId, day
        );
    }

    /// @dev Re-subscribing to a cancelled plan before its paid period ends: renewals resume, nothing is charged.
    function _resume(uint32 id, uint16 planId, Account account, Terms storage terms, uint80 maxPrice) private {
        terms.maxPrice = maxPrice;
        _list(id, planId, terms);
        _store(id, account.withoutFlag(AccountLib.FLAG_CANCELLED));
        emit Resumed(msg.sender, planId, maxPrice, uint40(account.paidThrough()));
    }

    function _subscribeAddOn(uint32 id, uint16 planId, Plan memory plan, uint80 maxPrice) private {
        Account account = _account(id);
        uint16 base = account.planId();
        uint256 paidThrough = account.paidThrough();
        uint16 mask = _mask(plan.addOnBit);
        Terms storage terms = _terms[id][planId];
        if (
            base == 0 || paidThrough <= block.timestamp || _plans[base].period != plan.period
                || account.flags() & (AccountLib.FLAG_CANCELLED | AccountLib.FLAG_PRICE_LAPSED) != 0
        ) revert Billing_AddOnNeedsBase(msg.sender, planId);
        uint32 day = BillingMath.releaseDay(paidThrough);
        if (account.addOns() & mask != 0) {
            if (account.addOnsEnding() & mask == 0) revert Billing_AlreadySubscribed(msg.sender, planId);
            // Resuming an add-on cancelled at period end: it is paid for this period already.
            terms.maxPrice = maxPrice;
            _store(id, account.withAddOns(account.addOns(), account.addOnsEnding() & ~mask));
            emit AddOnSubscribed(msg.sender, planId, 0, maxPrice, plan.splitId, day);
            return;
        }
        uint256 charge = account.hasFlag(AccountLib.FLAG_TRIAL)
            ? 0
            : BillingMath.proratedCharge(plan.price, paidThrough - block.timestamp, plan.period);
        uint256 balance = account.balance();
        if (balance < charge) revert Billing_InsufficientBalance(msg.sender, charge, balance);
        if (charge != 0) _escrow[plan.splitId][day] += charge;
        _store(id, account.withBalance(balance - charge).withAddOns(account.addOns() | mask, account.addOnsEnding()));
        terms.maxPrice = maxPrice;
        terms.paidPrice = uint80(plan.price);
        terms.splitId = plan.splitId;
        emit AddOnSubscribed(msg.sender, planId, charge, maxPrice, plan.splitId, day);
    }

    /// @dev Refund of the unused part of the current period of `planId`, taken from the escrow bucket that
    /// received the period's charge. Rounds down.
    function _refundPlan(uint32 id, uint16 planId, uint256 paidThrough, uint256 remaining, uint256 period)
        private
        returns (uint256 refund)
    {
        if (remaining == 0) return 0;
        Terms storage terms = _terms[id][planId];
        refund = BillingMath.proratedRefund(terms.paidPrice, remaining, period);
        if (refund == 0) return 0;
        uint32 day = BillingMath.releaseDay(paidThrough);
        _escrow[terms.splitId][day] -= refund;
        emit Refunded(_customers[id], planId, refund, terms.splitId, day);
    }

    /// @dev Immediate plan change: the old plan's unused time is credited (rounded down) from its escrow
    /// bucket and the same time on the new plan charged (rounded up) into the new plan's bucket. A change
    /// during a trial stays a trial, free, on the new plan.
    function _upgrade(uint32 id, Account account, uint16 from, uint16 to, Plan memory newPlan, uint80 maxPrice)
        private
    {
        Terms storage newTerms = _terms[id][to];
        uint16 fromSplitId = _terms[id][from].splitId;
        uint256 credit;
        uint256 charge;
        if (account.hasFlag(AccountLib.FLAG_TRIAL)) {
            newTerms.trialUsed = true;
        } else {
            (account, credit, charge) = _prorateSwitch(id, account, _terms[id][from], newPlan);
        }
        _terms[id][from].pendingPlan = 0;
        _unlist(id, from);
        newTerms.maxPrice = maxPrice;
        _setChargeTerms(newTerms, newPlan);
        _list(id, to, newTerms);
        account = account.withPlanId(to).withoutFlag(AccountLib.FLAG_DOWNGRADE_PENDING);
        _store(id, account);
        _emitPlanChanged(from, to, credit, charge, account.paidThrough(), fromSplitId, newPlan.splitId);
    }

    function _emitPlanChanged(
        uint16 from,
        uint16 to,
        uint256 credit,
        uint256 charge,
        uint256 paidThrough,
        uint16 fromSplitId,
        uint16 splitId
    ) private {
        uint32 day = BillingMath.releaseDay(paidThrough);
        emit PlanChanged(msg.sender, from, to, credit, charge, uint40(paidThrough), fromSplitId, splitId, day);
    }

    /// @dev Moves the rest of the current period from the old plan's escrow bucket to the new plan's:
    /// credit = floor(old paid price * remaining / period), charge = ceil(new price * remaining / period).
    function _prorateSwitch(uint32 id, Account account, Terms storage oldTerms, Plan memory newPlan)
        private
        returns (Account, uint256 credit, uint256 charge)
    {
        uint256 paidThrough = account.paidThrough();
        uint256 remaining = paidThrough - block.timestamp;
        credit = BillingMath.proratedRefund(oldTerms.paidPrice, remaining, newPlan.period);
        charge = BillingMath.proratedCharge(newPlan.price, remaining, newPlan.period);
        uint256 available = account.balance() + credit; // charge >= credit: what remains is <= the balance
        if (available < charge) revert Billing_InsufficientBalance(_customers[id], charge - credit, account.balance());
        uint32 day = BillingMath.releaseDay(paidThrough);
        _escrow[oldTerms.splitId][day] -= credit;
        _escrow[newPlan.splitId][day] += charge;
        return (account.withBalance(available - charge), credit, charge);
    }
}
