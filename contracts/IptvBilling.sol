// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Proxy} from "@openzeppelin/contracts/proxy/Proxy.sol";

import {IBillingCore} from "../interfaces/IBillingCore.sol";
import {BillingStorage} from "./BillingStorage.sol";
import {Account, AccountLib} from "./libraries/AccountLib.sol";
import {BillingMath} from "./libraries/BillingMath.sol";

/// @title IptvBilling
/// @notice The customer-facing billing contract (see IIptvBilling for the whole surface). This contract
/// holds the token and runs the gas-critical paths itself: deposits, withdrawals and renewals. Every other
/// function lives in a module reached through the fallback by delegatecall (SubscriptionModule, which
/// forwards what it does not know to CatalogueModule); modules run on this contract's storage, so for
/// callers all of it is one contract at one address.
contract IptvBilling is IBillingCore, BillingStorage, Proxy {
    using SafeERC20 for IERC20;

    IERC20 private immutable _token;
    address private immutable _module;

    /// @param token_ the stablecoin, fixed for the life of the deployment
    /// @param admin receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE
    /// @param module the first module the fallback delegates to (UsageModule)
    constructor(IERC20 token_, address admin, address module) {
        if (admin == address(0) || module == address(0) || address(token_) == address(0)) {
            revert Billing_InvalidPayout();
        }
        _token = token_;
        _module = module;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _accounts.push(); // id 0: the empty account of everyone unregistered
        _disputeWindow = 3 days;
        _capPeriod = 30 days;
        // Spending caps count in micro-tokens for tokens with more than 6 decimals (fits the 48-bit field).
        uint8 decimals = IERC20Metadata(address(token_)).decimals();
        _capUnit = decimals > 6 ? uint64(10 ** (decimals - 6)) : 1;
    }

    /// @inheritdoc IBillingCore
    function deposit(uint256 amount) external nonReentrant whenNotPaused {
        _deposit(msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IBillingCore
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        whenNotPaused
    {
        // A front-runner may have submitted the permit already; the transfer below still needs the allowance.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IBillingCore
    function depositFor(address customer, uint256 amount) external nonReentrant whenNotPaused {
        if (customer == address(0) || customer == address(this)) revert Billing_InvalidCustomer(customer);
        _deposit(msg.sender, customer, amount);
    }

    /// @inheritdoc IBillingCore
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert Billing_ZeroAmount();
        // Effect: debit before the transfer (checks-effects-interactions).
        uint256 balance = _debitLedger(msg.sender, amount);
        emit Withdrawn(msg.sender, amount, balance);
        // Interaction.
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IBillingCore
    function withdrawEarnings() external nonReentrant whenNotPaused {
        uint256 amount = _earnings[msg.sender];
        if (amount == 0) revert Billing_NoEarnings(msg.sender);
        _earnings[msg.sender] = 0;
        emit EarningsWithdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IBillingCore
    function renew(uint16 planId, bytes calldata customerIds) external whenNotPaused returns (uint256 renewed) {
        return _renewBatch(planId, customerIds);
    }

    /// @inheritdoc IBillingCore
    function performUpkeep(bytes calldata performData) external whenNotPaused {
        (uint16 planId, bytes memory customerIds) = abi.decode(performData, (uint16, bytes));
        _renewBatch(planId, customerIds);
    }

    /// @inheritdoc IBillingCore
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IBillingCore
    function balanceOf(address customer) external view returns (uint256) {
        uint256 word = _ledger[customer];
        return word & REGISTERED == 0 ? word : _account(uint32(word)).balance();
    }

    /// @inheritdoc IBillingCore
    function isEntitled(address customer, uint256 packageId) external view returns (bool) {
        uint32 id = _idOf(customer);
        if (id == 0) return false;
        uint64 ref = _packageRef[packageId];
        if (ref != 0) return _entitledToItem(id, ref);
        Account account = _account(id);
        uint16 planId = account.planId();
        if (planId == 0 || !_entitled(account, _plans[planId].grace)) return false;
        if (_planIncludes[planId][packageId]) return true;
        for (uint16 mask = account.addOns(); mask != 0; mask &= mask - 1) {
            if (_planIncludes[_addOnPlans[_lowestBit(mask)]][packageId]) return true;
        }
        return false;
    }

    /// @dev A package sold as a pay-per-view event (entitled during the viewing window once bought) or a VOD
    /// title (entitled until the rental expires). A refunded charge entitles to nothing.
    function _entitledToItem(uint32 id, uint64 ref) private view returns (bool) {
        uint32 item = uint32(ref);
        if (ref & PACKAGE_PPV != 0) {
            Charge storage purchase = _ppvPurchases[item][id];
            PpvEvent storage ev = _ppvEvents[item];
            return purchase.status != 0 && purchase.status != CHARGE_REFUNDED && block.timestamp >= ev.viewStart
                && block.timestamp < ev.viewEnd;
        }
        Charge storage rental = _rentals[id][item];
        return rental.status != 0 && rental.status != CHARGE_REFUNDED && block.timestamp < rental.expiresAt;
    }

    /// @notice The module the fallback delegates to.
    function module() external view returns (address) {
        return _module;
    }

    /// @dev Proxy: calls this contract does not implement run in the module, on this contract's storage.
    function _implementation() internal view override returns (address) {
        return _module;
    }

    // =====================================================================================================
    // Internal
    // =====================================================================================================

    /// @dev Takes `amount` from `payer` and credits `customer` with exactly that: the balance delta must match,
    /// so fee-on-transfer tokens are refused, never credited on trust.
    function _deposit(address payer, address customer, uint256 amount) private {
        if (amount == 0) revert Billing_ZeroAmount();
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(payer, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert Billing_TransferAmountMismatch(amount, received);
        uint256 balance = _creditLedger(customer, amount);
        emit Deposited(customer, payer, amount, balance);
    }

    // =====================================================================================================
    // Internal: renewals
    // =====================================================================================================

    /// @dev Renews a batch in two passes. The first, in assembly, handles the plain case on the raw account
    /// word (one SLOAD, one SSTORE per customer): on this plan, due, within grace, no flag but the cap flag,
    /// the current price epoch, no add-ons, a balance that covers the price, and a new paid-through time on
    /// the same release day as the batch's first plain renewal. Every other due customer of the plan is
    /// deferred to the second pass, which handles it in Solidity (_renewSlow).
    function _renewBatch(uint16 planId, bytes memory customerIds) private returns (uint256 renewed) {
        uint256 n = customerIds.length;
        if (n % 4 != 0) revert Billing_MalformedBatch();
        Plan memory plan = _plans[planId];
        if (!plan.exists || plan.addOnBit != 0) revert Billing_UnknownPlan(planId);
        FastPass memory pass = FastPass({
            ids: customerIds,
            planId: planId,
            expect: (uint256(planId) << AccountLib.SHIFT_PLAN) | (uint256(_priceEpoch) << AccountLib.SHIFT_EPOCH),
            mask: AccountLib.PLAIN_MASK,
            price: plan.price,
            period: plan.period,
            grace: plan.grace,
            day: 0,
            // 32 bytes of slack: ids are written with 32-byte stores.
            plain: new bytes(n + 32),
            deferred: new bytes(n + 32)
        });
        _plainPass(pass);
        bytes memory plain = pass.plain;
        bytes memory deferred = pass.deferred;
        uint256 plainCount = plain.length / 4;
        if (plainCount != 0) {
            _escrow[plan.splitId][pass.day] += plan.price * plainCount;
            emit RenewalsCharged(planId, plan.price, plan.period, plan.splitId, pass.day, plain);
        }
        uint256 deferredCount = deferred.length / 4;
        for (uint256 i; i < deferredCount; ++i) {
            uint32 id;
            assembly ("memory-safe") {
                id := shr(224, mload(add(add(deferred, 32), shl(2, i))))
            }
            Account account = _account(id);
            // Re-read: a customer listed twice may have been renewed already.
            if (account.planId() != planId || account.paidThrough() > block.timestamp) continue;
            if (_renewSlow(id, account, planId, plan)) ++renewed;
        }
        renewed += plainCount;
    }

    /// @dev Inputs and outputs of the plain pass, in memory; the assembly reads fields by offset.
    struct FastPass {
        bytes ids; //       0x000
        uint256 planId; //  0x020
        uint256 expect; //  0x040: planId and price epoch in place, zero add-ons and flags
        uint256 mask; //    0x060: AccountLib.PLAIN_MASK
        uint256 price; //   0x080
        uint256 period; //  0x0a0
        uint256 grace; //   0x0c0
        uint32 day; //      0x0e0: out: the plain run's release day
        bytes plain; //     0x100: out: plain renewals (ids)
        bytes deferred; //  0x120: out: due customers of the plan left to the slow pass
    }

    /// @dev Account fields used below (AccountLib): balance = word & (2^80 - 1); paidThrough = (word >> 80) &
    /// (2^40 - 1); planId = (word >> 120) & 0xffff. The sums cannot overflow (40-bit times, 80-bit balances),
    /// and `word - price + (period << 80)` runs only when the balance field covers the price, so it borrows
    /// from no other field. Ids are written with 32-byte stores into buffers with 32 bytes of slack.
    function _plainPass(FastPass memory pass) private {
        assembly ("memory-safe") {
            let ptr := add(mload(pass), 32)
            let end := add(ptr, mload(mload(pass)))
            let plainEnd := add(mload(add(pass, 0x100)), 32)
            let deferredEnd := add(mload(add(pass, 0x120)), 32)
            let price := mload(add(pass, 0x80))
            let period := mload(add(pass, 0xa0))
            let runDay := 0
            // Element i of the accounts array lives at keccak256(slot) + i. Ids past the array's end read an
            // empty word (plan 0): skipped, never written.
            // The base is kept in scratch memory at 0x00 (the stack is full).
            mstore(0, _accounts.slot)
            mstore(0, keccak256(0, 32))
            for {} lt(ptr, end) { ptr := add(ptr, 4) } {
                let id := shr(224, mload(ptr))
                let slot := add(mload(0), id)
                let word := sload(slot)
                let paid := and(shr(80, word), 0xffffffffff)
                // Plain: fields as expected, now - paid in [0, grace], balance >= price, same release day.
                if iszero(
                    or(
                        or(
                            iszero(eq(and(word, mload(add(pass, 0x60))), mload(add(pass, 0x40)))),
                            gt(sub(timestamp(), paid), mload(add(pass, 0xc0)))
                        ),
                        lt(and(word, 0xffffffffffffffffffff), price)
                    )
                ) {
                    let day := div(add(add(paid, period), 86399), 86400)
                    if iszero(runDay) { runDay := day }
                    if eq(day, runDay) {
                        sstore(slot, add(sub(word, price), shl(80, period)))
                        mstore(plainEnd, shl(224, id))
                        plainEnd := add(plainEnd, 4)
                        continue
                    }
                }
                // Not plain: defer it if it is a due customer of this plan, skip it otherwise.
                if and(eq(and(shr(120, word), 0xffff), mload(add(pass, 0x20))), iszero(gt(paid, timestamp()))) {
                    mstore(deferredEnd, shl(224, id))
                    deferredEnd := add(deferredEnd, 4)
                }
            }
            // The buffers' lengths are what was written; the run's release day goes back to Solidity.
            let plain := mload(add(pass, 0x100))
            mstore(plain, sub(plainEnd, add(plain, 32)))
            let deferred := mload(add(pass, 0x120))
            mstore(deferred, sub(deferredEnd, add(deferred, 32)))
            mstore(add(pass, 0xe0), runDay)
        }
    }

    /// @dev Working state of one slow-path renewal (a struct keeps the stack shallow).
    struct SlowRenewal {
        uint32 id;
        uint16 from;
        uint16 to;
        uint16 epoch;
        uint16 keep;
        uint8 flags;
        address customer;
        uint256 paidThrough;
        uint256 addOnTotal;
    }

    /// @dev Everything but the plain renewal: a scheduled downgrade, a changed price or split (stale epoch),
    /// add-ons, the end of a trial, a retry after a failure, and a restore after suspension.
    /// @return renewed whether the customer was charged
    function _renewSlow(uint32 id, Account account, uint16 planId, Plan memory plan) private returns (bool renewed) {
        if (account.flags() & STOP_FLAGS != 0) return false;
        uint16 epoch = _priceEpoch;
        SlowRenewal memory r = SlowRenewal({
            id: id,
            from: planId,
            to: planId,
            epoch: epoch,
            keep: 0,
            flags: account.flags(),
            customer: _customers[id],
            paidThrough: account.paidThrough(),
            addOnTotal: 0
        });
        Plan memory target;
        (r.to, target) = _renewalTarget(id, account, planId, plan);
        uint256 maxPrice = _terms[id][r.to].maxPrice;
        if (target.price > maxPrice) {
            _store(id, account.withFlag(AccountLib.FLAG_PRICE_LAPSED));
            emit RenewalDeclined(r.customer, r.to, target.price, maxPrice);
            return false;
        }
        (r.keep, r.addOnTotal) = _renewableAddOns(id, account, target.period);
        uint256 total = target.price + r.addOnTotal;
        if (account.balance() < total) {
            if (r.flags & AccountLib.FLAG_RENEWAL_FAILED == 0) {
                _store(id, account.withFlag(AccountLib.FLAG_RENEWAL_FAILED));
                uint256 graceEnds = r.paidThrough + (r.flags & AccountLib.FLAG_TRIAL != 0 ? 0 : plan.grace);
                emit RenewalFailed(r.customer, r.to, total, account.balance(), uint40(graceEnds));
            }
            return false;
        }
        _commitRenewal(r, account, plan.grace, target, total);
        return true;
    }

    function _commitRenewal(SlowRenewal memory r, Account account, uint256 grace, Plan memory target, uint256 total)
        private
    {
        // A customer past grace (or past a trial, which has none) starts a fresh period now; otherwise the
        // period continues from the paid-through time, so grace is paid for, never free.
        uint256 graceEnds = r.paidThrough + (r.flags & AccountLib.FLAG_TRIAL != 0 ? 0 : grace);
        uint256 newPaidThrough = (block.timestamp > graceEnds ? block.timestamp : r.paidThrough) + target.period;
        uint32 day = BillingMath.releaseDay(newPaidThrough);
        Terms storage terms = _terms[r.id][r.to];
        if (r.to != r.from) {
            _terms[r.id][r.from].pendingPlan = 0;
            _unlist(r.id, r.from);
            _list(r.id, r.to, terms);
        }
        _setChargeTerms(terms, target);
        _escrow[target.splitId][day] += target.price;
        _endAddOns(r.customer, account.addOns() & ~r.keep, account.addOnsEnding());
        _chargeAddOns(r.id, r.customer, r.keep, day);
        account = account.withBalance(account.balance() - total).withPaidThrough(newPaidThrough).withPlanId(r.to);
        account = account.withPriceEpoch(r.epoch).withAddOns(r.keep, 0).withoutFlag(SLOW_FLAGS);
        _store(r.id, account);
        emit Renewed(r.customer, r.to, target.price, uint40(newPaidThrough), target.splitId, day);
    }

    /// @dev Escrows one period of every add-on in `keep` and refreshes the customer's terms for them.
    function _chargeAddOns(uint32 id, address customer, uint16 keep, uint32 day) private {
        for (uint16 mask = keep; mask != 0; mask &= mask - 1) {
            uint16 addOnId = _addOnPlans[_lowestBit(mask)];
            Plan memory addOn = _plans[addOnId];
            _setChargeTerms(_terms[id][addOnId], addOn);
            _escrow[addOn.splitId][day] += addOn.price;
            emit AddOnRenewed(customer, addOnId, addOn.price, addOn.splitId, day);
        }
    }

    /// @dev Emits AddOnEnded for every add-on in `ended`: cancelled ones (in `ending`) and priced-out ones.
    function _endAddOns(address customer, uint16 ended, uint16 ending) private {
        for (uint16 mask = ended; mask != 0; mask &= mask - 1) {
            uint8 bit = _lowestBit(mask);
            emit AddOnEnded(customer, _addOnPlans[bit], ending & _mask(bit) != 0 ? ADDON_END_CANCELLED : ADDON_END_PRICE);
        }
    }
}
