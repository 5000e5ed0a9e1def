// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IBillingErrors} from "../interfaces/IBillingErrors.sol";
import {IBillingEvents} from "../interfaces/IBillingEvents.sol";
import {IBillingTypes} from "../interfaces/IBillingTypes.sol";
import {Account, AccountLib} from "./libraries/AccountLib.sol";
import {BillingMath} from "./libraries/BillingMath.sol";

/// @title BillingStorage
/// @notice The one storage layout of the billing system and the helpers more than one part needs. The
/// customer-facing IptvBilling and its modules (SubscriptionModule, CatalogueModule, reached by delegatecall
/// from IptvBilling's fallback) all inherit it, so they read and write the same slots; only IptvBilling's
/// constructor initialises them. Splitting the code keeps every contract under the EIP-170 size limit
/// while customers and wallets deal with one address.
///
/// Layout for the hot path: everything a renewal of one customer reads or writes sits in that customer's
/// one `Account` word (libraries/AccountLib.sol); the plan, the price epoch and the pause flag are read
/// once per batch.
abstract contract BillingStorage is IBillingTypes, IBillingErrors, IBillingEvents, AccessControl, ReentrancyGuard, Pausable {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    /// @dev Marks a `_ledger` word that points to a registered account (low 32 bits = customer id). An
    /// unmarked word is the balance of a customer who has not registered yet (always < 2^80).
    uint256 internal constant REGISTERED = 1 << 255;
    uint256 internal constant MAX_SPLIT_ENTRIES = 8;
    uint256 internal constant MAX_PACKAGES = 64;
    uint8 internal constant MAX_ADDONS = 16;
    uint256 internal constant MIN_PERIOD = 1 days;

    /// @dev Why an add-on ended (AddOnEnded.reason).
    uint8 internal constant ADDON_END_CANCELLED = 1;
    uint8 internal constant ADDON_END_PRICE = 2;
    uint8 internal constant ADDON_END_REFUNDED = 3;

    /// @dev Flags that send a due renewal down the slow path, and flags that stop renewals altogether.
    uint8 internal constant SLOW_FLAGS = AccountLib.FLAG_TRIAL | AccountLib.FLAG_DOWNGRADE_PENDING
        | AccountLib.FLAG_RENEWAL_FAILED | AccountLib.FLAG_RECHECK;
    uint8 internal constant STOP_FLAGS = AccountLib.FLAG_CANCELLED | AccountLib.FLAG_PRICE_LAPSED;

    /// @dev One slot. `period` and the others in seconds; `addOnBit` is 0 for base plans, else 1..16.
    struct Plan {
        uint96 price;
        uint32 period;
        uint32 trial;
        uint32 grace;
        uint16 maxStreams;
        uint16 splitId;
        uint8 addOnBit;
        bool active;
        bool exists;
    }

    /// @dev A customer's standing terms for one plan; cold, touched only when something changes.
    /// `paidPrice` and `splitId` describe the current period's charge (what a refund gives back and which
    /// escrow bucket it comes from); they are kept equal to the plan's while the account's priceEpoch is
    /// current. `listIndex` is the 1-based position in `_subscribers[planId]` (0 = not listed).
    struct Terms {
        uint80 maxPrice;
        uint80 paidPrice;
        uint32 listIndex;
        uint16 splitId;
        uint16 pendingPlan;
        bool trialUsed;
    }

    struct Split {
        uint16[] providerIds;
        uint16[] bps;
    }

    /// @dev A usage line of `quantity` units costs ceil(quantity * unitPrice / unitScale).
    struct Meter {
        uint96 unitPrice;
        uint32 unitScale;
        uint16 splitId;
        bool active;
        bool exists;
    }

    struct PpvEvent {
        uint96 price;
        uint40 salesClose;
        uint40 viewStart;
        uint40 viewEnd;
        uint16 splitId;
        bool exists;
    }

    struct VodTitle {
        uint96 price;
        uint32 rentalSeconds;
        uint16 splitId;
        bool active;
        bool exists;
    }

    /// @dev A pay-per-view purchase or a rental. status: CHARGE_* constants.
    struct Charge {
        uint96 amount;
        uint8 status;
        uint40 expiresAt;
        uint32 releaseDay;
        uint64 batchId;
    }

    struct Dispute {
        uint32 customerId;
        uint96 amount;
        uint16 splitId;
        uint8 kind;
        uint8 status;
        uint32 objectId;
    }

    /// @dev A committed statement period.
    struct Statement {
        bytes32 root;
        uint40 start;
        uint40 end;
        uint32 lines;
    }

    uint8 internal constant CHARGE_PENDING = 1;
    uint8 internal constant CHARGE_DISPUTED = 2;
    uint8 internal constant CHARGE_REFUNDED = 3;
    uint8 internal constant CHARGE_UPHELD = 4;

    uint8 internal constant DISPUTE_USAGE = 1;
    uint8 internal constant DISPUTE_PPV = 2;
    uint8 internal constant DISPUTE_RENTAL = 3;

    uint8 internal constant DISPUTE_OPEN = 1;
    uint8 internal constant DISPUTE_REFUNDED = 2;
    uint8 internal constant DISPUTE_UPHELD = 3;

    /// @dev `_packageRef` kinds: a package sold as a pay-per-view event or a VOD title.
    uint64 internal constant PACKAGE_PPV = 1 << 32;
    uint64 internal constant PACKAGE_VOD = 2 << 32;

    // These pack into the slot of Pausable's `_paused`: a renewal batch reads them with one SLOAD.
    uint16 internal _priceEpoch;
    uint16 internal _planCount;
    uint16 internal _providerCount;
    uint16 internal _splitCount;
    uint8 internal _addOnCount;
    uint16 internal _meterCount;
    uint8 internal _signerCount;
    uint8 internal _threshold;
    uint32 internal _disputeWindow;
    uint32 internal _capPeriod;
    uint64 internal _capUnit;

    mapping(address customer => uint256 word) internal _ledger;
    /// @dev Indexed by customer id; entry 0 is a permanent empty account (id 0 = unregistered). An array, not
    /// a mapping, so the renewal loop finds a customer's slot by addition instead of hashing.
    Account[] internal _accounts;
    mapping(uint32 customerId => address) internal _customers;
    mapping(uint32 customerId => mapping(uint16 planId => Terms)) internal _terms;

    mapping(uint16 planId => Plan) internal _plans;
    mapping(uint16 planId => uint256[]) internal _planPackages;
    mapping(uint16 planId => mapping(uint256 packageId => bool)) internal _planIncludes;
    mapping(uint8 bit => uint16 planId) internal _addOnPlans;
    mapping(uint16 planId => uint32[]) internal _subscribers;

    mapping(uint16 providerId => address) internal _payouts;
    mapping(uint16 splitId => Split) internal _splits;
    mapping(uint16 splitId => mapping(uint32 day => uint256)) internal _escrow;
    mapping(address payee => uint256) internal _earnings;

    mapping(uint16 meterId => Meter) internal _meters;
    mapping(address signer => bool) internal _signers;
    mapping(uint64 batchId => bytes32) internal _batchCommitments;
    mapping(uint32 customerId => uint256) internal _caps;

    uint32 internal _ppvCount;
    uint32 internal _vodCount;
    uint64 internal _disputeCount;
    mapping(uint32 eventId => PpvEvent) internal _ppvEvents;
    mapping(uint32 eventId => uint256) internal _ppvPackages;
    mapping(uint32 eventId => mapping(uint32 customerId => Charge)) internal _ppvPurchases;
    mapping(uint32 titleId => VodTitle) internal _vodTitles;
    mapping(uint32 titleId => uint256) internal _vodPackages;
    mapping(uint32 customerId => mapping(uint32 titleId => Charge)) internal _rentals;
    mapping(uint256 packageId => uint64) internal _packageRef;
    mapping(uint256 packageId => uint16 plans) internal _packagePlans;
    mapping(uint64 disputeId => Dispute) internal _disputes;
    mapping(uint64 disputeId => bytes32) internal _disputeRefs;
    mapping(bytes32 chargeKey => uint64 disputeId) internal _disputeOf;
    mapping(uint32 period => Statement) internal _statements;

    /// @dev The account of customer `id` (the empty account for id 0 and for ids never registered). Reads the
    /// array element directly: Solidity's indexed access would also read the array length, a second cold slot.
    function _account(uint256 id) internal view returns (Account account) {
        assembly ("memory-safe") {
            mstore(0, _accounts.slot)
            account := sload(add(keccak256(0, 32), id))
        }
    }

    /// @dev Writes the account of `id`. Callers pass only registered ids (from `_ledger` or checked against a
    /// stored plan), so the write always lands inside the array.
    function _store(uint256 id, Account account) internal {
        assembly ("memory-safe") {
            mstore(0, _accounts.slot)
            sstore(add(keccak256(0, 32), id), account)
        }
    }

    function _idOf(address customer) internal view returns (uint32) {
        uint256 word = _ledger[customer];
        return word & REGISTERED == 0 ? 0 : uint32(word);
    }

    /// @dev Gives `customer` an id and moves their unregistered balance into the account word.
    function _register(address customer) internal returns (uint32 id) {
        uint256 word = _ledger[customer];
        if (word & REGISTERED != 0) return uint32(word);
        if (customer == address(0) || customer == address(this)) revert Billing_InvalidCustomer(customer);
        uint256 next = _accounts.length;
        if (next > type(uint32).max) revert Billing_InvalidCustomer(customer);
        id = uint32(next);
        _customers[id] = customer;
        _accounts.push(Account.wrap(0).withBalance(word));
        _ledger[customer] = REGISTERED | id;
        emit CustomerRegistered(customer, id);
    }

    /// @dev `account` with `amount` added to its balance (a refund, a credit), within the per-customer maximum.
    function _creditAccount(address customer, Account account, uint256 amount) internal pure returns (Account) {
        uint256 balance = account.balance() + amount;
        _checkBalance(customer, balance);
        return account.withBalance(balance);
    }

    function _checkBalance(address customer, uint256 balance) internal pure {
        if (balance > AccountLib.MAX_BALANCE) {
            revert Billing_BalanceOverflow(customer, balance, AccountLib.MAX_BALANCE);
        }
    }

    function _creditLedger(address customer, uint256 amount) internal returns (uint256 balance) {
        uint256 word = _ledger[customer];
        if (word & REGISTERED == 0) {
            balance = word + amount;
            _checkBalance(customer, balance);
            _ledger[customer] = balance;
        } else {
            uint32 id = uint32(word);
            Account account = _account(id);
            balance = account.balance() + amount;
            _checkBalance(customer, balance);
            _store(id, account.withBalance(balance));
        }
    }

    function _debitLedger(address customer, uint256 amount) internal returns (uint256 balance) {
        uint256 word = _ledger[customer];
        if (word & REGISTERED == 0) {
            if (word < amount) revert Billing_InsufficientBalance(customer, amount, word);
            // unchecked: word >= amount was just checked.
            unchecked {
                balance = word - amount;
            }
            _ledger[customer] = balance;
        } else {
            uint32 id = uint32(word);
            Account account = _account(id);
            uint256 available = account.balance();
            if (available < amount) revert Billing_InsufficientBalance(customer, amount, available);
            unchecked {
                balance = available - amount;
            }
            _store(id, account.withBalance(balance));
        }
    }

    function _list(uint32 id, uint16 planId, Terms storage terms) internal {
        if (terms.listIndex != 0) return;
        uint32[] storage list = _subscribers[planId];
        list.push(id);
        terms.listIndex = uint32(list.length);
    }

    function _unlist(uint32 id, uint16 planId) internal {
        Terms storage terms = _terms[id][planId];
        uint256 index = terms.listIndex;
        if (index == 0) return;
        uint32[] storage list = _subscribers[planId];
        uint256 last = list.length;
        if (index != last) {
            uint32 moved = list[last - 1];
            list[index - 1] = moved;
            _terms[moved][planId].listIndex = uint32(index);
        }
        list.pop();
        terms.listIndex = 0;
    }

    /// @dev Entitled (and "live" for subscribing again): paid or in trial, or within grace after a missed
    /// renewal. Cancelled, priced-out and trial periods have no grace.
    function _entitled(Account account, uint256 grace) internal view returns (bool) {
        if (account.planId() == 0) return false;
        uint256 paidThrough = account.paidThrough();
        uint8 noGrace = AccountLib.FLAG_CANCELLED | AccountLib.FLAG_PRICE_LAPSED | AccountLib.FLAG_TRIAL;
        return block.timestamp < paidThrough + (account.flags() & noGrace != 0 ? 0 : grace);
    }

    function _live(Account account, uint256 grace) internal view returns (bool) {
        return _entitled(account, grace);
    }

    function _state(Account account, uint256 grace) internal view returns (SubscriptionState) {
        uint256 paidThrough = account.paidThrough();
        bool paid = block.timestamp < paidThrough;
        if (account.hasFlag(AccountLib.FLAG_CANCELLED)) return paid ? SubscriptionState.Cancelled : SubscriptionState.Ended;
        if (account.hasFlag(AccountLib.FLAG_PRICE_LAPSED)) return paid ? SubscriptionState.Active : SubscriptionState.Ended;
        if (account.hasFlag(AccountLib.FLAG_TRIAL)) return paid ? SubscriptionState.Trial : SubscriptionState.Suspended;
        if (paid) return SubscriptionState.Active;
        return block.timestamp < paidThrough + grace ? SubscriptionState.Grace : SubscriptionState.Suspended;
    }

    function _planIdsOf(uint16 addOnMask) internal view returns (uint16[] memory ids) {
        uint256 count;
        for (uint16 mask = addOnMask; mask != 0; mask &= mask - 1) ++count;
        ids = new uint16[](count);
        uint256 i;
        for (uint16 mask = addOnMask; mask != 0; mask &= mask - 1) {
            ids[i++] = _addOnPlans[_lowestBit(mask)];
        }
    }

    function _mask(uint8 bit) internal pure returns (uint16) {
        return bit == 0 ? 0 : uint16(1 << (bit - 1));
    }

    /// @dev 1-based index of the lowest set bit of a non-zero mask.
    function _lowestBit(uint16 mask) internal pure returns (uint8 bit) {
        bit = 1;
        while (mask & 1 == 0) {
            mask >>= 1;
            ++bit;
        }
    }

    function _planId(uint256 planId) internal view returns (uint16) {
        if (planId == 0 || planId > _planCount) revert Billing_UnknownPlan(planId);
        return uint16(planId);
    }

    function _planStorage(uint16 planId) internal view returns (Plan storage plan) {
        plan = _plans[planId];
        if (!plan.exists) revert Billing_UnknownPlan(planId);
    }

    /// @dev Any maximum above the largest representable price accepts every price.
    function _clampPrice(uint256 maxPrice) internal pure returns (uint80) {
        return maxPrice > type(uint80).max ? type(uint80).max : uint80(maxPrice);
    }

    function _setChargeTerms(Terms storage terms, Plan memory plan) internal {
        if (terms.paidPrice != plan.price) terms.paidPrice = uint80(plan.price);
        if (terms.splitId != plan.splitId) terms.splitId = plan.splitId;
    }

    /// @dev The add-ons that renew with the base: held, not cancelled, priced within the customer's maximum,
    /// and on the base's period length.
    function _renewableAddOns(uint32 id, Account account, uint32 period)
        internal
        view
        returns (uint16 keep, uint256 total)
    {
        for (uint16 mask = account.addOns() & ~account.addOnsEnding(); mask != 0; mask &= mask - 1) {
            uint8 bit = _lowestBit(mask);
            uint16 addOnId = _addOnPlans[bit];
            Plan storage addOn = _plans[addOnId];
            if (addOn.price <= _terms[id][addOnId].maxPrice && addOn.period == period) {
                keep |= _mask(bit);
                total += addOn.price;
            }
        }
    }

    /// @dev Credits `amount` to the split's payees: each entry but the first gets floor(amount * bps / 10^4),
    /// the first gets the rest, so the shares sum to `amount` exactly.
    function _creditSplit(uint16 splitId, uint256 amount) internal {
        Split storage split = _splits[splitId];
        uint256 n = split.providerIds.length;
        uint256 rest = amount;
        for (uint256 i = 1; i < n; ++i) {
            uint256 share = BillingMath.splitShare(amount, split.bps[i]);
            rest -= share;
            _creditProvider(split.providerIds[i], splitId, share);
        }
        _creditProvider(split.providerIds[0], splitId, rest);
    }

    function _creditProvider(uint16 providerId, uint16 splitId, uint256 amount) internal {
        if (amount == 0) return;
        address payee = _payouts[providerId];
        _earnings[payee] += amount;
        emit EarningsCredited(payee, providerId, splitId, amount);
    }

    /// @dev The plan the next renewal of base plan `planId` charges: a scheduled downgrade's target when it is
    /// still a compatible base plan, else `planId` itself.
    function _renewalTarget(uint32 id, Account account, uint16 planId, Plan memory plan)
        internal
        view
        returns (uint16 target, Plan memory targetPlan)
    {
        if (account.hasFlag(AccountLib.FLAG_DOWNGRADE_PENDING)) {
            uint16 pending = _terms[id][planId].pendingPlan;
            Plan memory candidate = _plans[pending];
            if (candidate.exists && candidate.addOnBit == 0 && candidate.period == plan.period) {
                return (pending, candidate);
            }
        }
        return (planId, plan);
    }
}
