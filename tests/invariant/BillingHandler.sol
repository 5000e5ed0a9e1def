// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IIptvBilling} from "../../interfaces/IIptvBilling.sol";
import {IBillingTypes} from "../../interfaces/IBillingTypes.sol";
import {TestStablecoin} from "../../contracts/testing/TestStablecoin.sol";
import {Vm} from "./Vm.sol";

/// @dev The random actor of the invariant suite: every entry point of the billing system, called by
/// customers, the keeper, the oracle's submitter, the operator, the arbiter, providers and the pauser, with
/// inputs bounded to what can succeed most of the time. Ghost variables record what the invariants need;
/// checks that concern one action (a renewal charging twice, a replayed batch accepted, a customer's balance
/// falling without a cause) set a violation message that the invariant reports.
contract BillingHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant DAY = 86_400;
    bytes32 internal constant USAGE_BATCH_TYPEHASH = keccak256(
        "UsageBatch(uint64 batchId,uint64 deadline,uint16 meterId,uint32 windowStart,uint32 windowEnd,"
        "bytes32 recordsRoot,bytes lines)"
    );
    bytes32 internal constant USAGE_DECLINED = keccak256("UsageDeclined(uint64,uint32,uint32,uint256,uint8)");
    bytes32 internal constant USAGE_SETTLED = keccak256(
        "UsageSettled(uint64,uint16,(uint16,uint256,uint32,uint16,uint32),uint32,uint32,bytes32,uint256,bytes)"
    );

    IIptvBilling public immutable billing;
    TestStablecoin public immutable token;
    address public immutable admin;
    address public immutable arbiter;
    uint256 public immutable startDay;

    address[] public customers;
    address[] public payees;
    uint16[] public plans;
    uint16[] public splits;
    uint16 public meter;
    uint32 public ppvEvent;
    uint256[] internal oracleKeys; // sorted by address

    // ----- ghosts -----
    uint256 public deposited; // tokens that arrived through deposit / depositFor
    uint256 public withdrawn; // tokens paid out to customers
    uint256 public earningsWithdrawn; // tokens paid out to providers
    uint256 public charged; // customer balance taken by charges (renewals, usage, PPV, plan changes)
    uint256 public refunded; // customer balance given back (cancelNow, plan-change credit, dispute refunds)
    uint256 public transitions; // successful state-changing calls
    mapping(string => uint256) public done; // successful calls by kind, and charges that moved money
    string[] internal kinds;
    string public violation; // the first per-action violation seen, empty while none
    mapping(address => mapping(uint16 => uint256)) public acceptedMaxPrice;
    mapping(uint64 => uint256) public disputeAmountAtOpening;
    uint64[] public disputes;

    struct SettledBatch {
        uint64 batchId;
        IBillingTypes.UsageBatch header;
        bytes lines;
        bytes signatures0;
        bytes signatures1;
        IBillingTypes.UsageSettlement settlement;
        uint32[] declined;
        uint256 settledAt;
    }

    SettledBatch[] internal batches;
    uint64 internal nextBatchId = 1;

    constructor(
        IIptvBilling billing_,
        TestStablecoin token_,
        address admin_,
        address arbiter_,
        address[] memory customers_,
        address[] memory payees_,
        uint16[] memory plans_,
        uint16[] memory splits_,
        uint16 meter_,
        uint32 ppvEvent_,
        uint256[] memory oracleKeys_
    ) {
        billing = billing_;
        token = token_;
        admin = admin_;
        arbiter = arbiter_;
        customers = customers_;
        payees = payees_;
        plans = plans_;
        splits = splits_;
        meter = meter_;
        ppvEvent = ppvEvent_;
        oracleKeys = oracleKeys_;
        startDay = block.timestamp / DAY;
        for (uint256 i; i < customers_.length; ++i) {
            vm.prank(customers_[i]);
            token_.approve(address(billing_), type(uint256).max);
        }
    }

    // ----- views for the invariants -----

    function customerCount() external view returns (uint256) {
        return customers.length;
    }

    function payeeCount() external view returns (uint256) {
        return payees.length;
    }

    function disputeCount() external view returns (uint256) {
        return disputes.length;
    }

    function splitCount() external view returns (uint256) {
        return splits.length;
    }

    /// @dev Escrow buckets are keyed by release day: a paid-through time, or now plus the dispute window.
    /// None lies before the suite started or more than 40 days ahead: 7- and 30-day periods, 3-day trials,
    /// and a PPV event that ends 21 days after the suite starts (its money is held until then).
    function lastEscrowDay() public view returns (uint256) {
        return block.timestamp / DAY + 40;
    }

    // ----- customers -----

    function deposit(uint256 actorSeed, uint256 amount) external {
        address c = _customer(actorSeed);
        amount = _bound(amount, 1, 200e6);
        token.mint(c, amount);
        uint256 before = token.balanceOf(address(billing));
        uint256 balanceBefore = billing.balanceOf(c);
        vm.prank(c);
        try billing.deposit(amount) {
            uint256 arrived = token.balanceOf(address(billing)) - before;
            if (arrived != amount || billing.balanceOf(c) - balanceBefore != amount) {
                _violate("I2: a deposit credited other than what arrived");
            }
            deposited += amount;
            _done("deposit");
        } catch {
            _expectPaused("deposit");
        }
    }

    function depositFor(uint256 payerSeed, uint256 customerSeed, uint256 amount) external {
        address payer = _customer(payerSeed);
        address c = _customer(customerSeed);
        amount = _bound(amount, 1, 100e6);
        token.mint(payer, amount);
        uint256 before = billing.balanceOf(c);
        uint256[] memory others = _balances();
        vm.prank(payer);
        try billing.depositFor(c, amount) {
            if (billing.balanceOf(c) - before != amount) _violate("I2: depositFor credited another amount");
            deposited += amount;
            _done("depositFor");
            _checkNoOtherFalls(others, address(0));
        } catch {
            _expectPaused("depositFor");
        }
    }

    function withdraw(uint256 actorSeed, uint256 amount) external {
        address c = _customer(actorSeed);
        uint256 balance = billing.balanceOf(c);
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        uint256 wallet = token.balanceOf(c);
        uint256[] memory before = _balances();
        vm.prank(c);
        try billing.withdraw(amount) {
            if (token.balanceOf(c) - wallet != amount) _violate("I2: withdraw paid another amount");
            if (balance - billing.balanceOf(c) != amount) _violate("I2: withdraw debited another amount");
            withdrawn += amount;
            _done("withdraw");
            _checkNoOtherFalls(before, c);
        } catch {
            // Pause must not trap funds: a covered withdrawal always succeeds.
            _violate("pause or state trapped a covered withdrawal");
        }
    }

    function subscribe(uint256 actorSeed, uint256 planSeed, uint256 headroom) external {
        address c = _customer(actorSeed);
        uint16 planId = _plan(planSeed);
        uint256 price = billing.planOf(planId).price;
        uint256 maxPrice = price + _bound(headroom, 0, price); // up to twice today's price
        _chargeByOwnAction(c, abi.encodeCall(billing.subscribe, (planId, maxPrice)), "subscribe");
        if (_lastOk) acceptedMaxPrice[c][planId] = maxPrice;
    }

    function setMaxPrice(uint256 actorSeed, uint256 maxPrice) external {
        address c = _customer(actorSeed);
        IBillingTypes.AccountView memory a = billing.accountOf(c);
        if (a.planId == 0) return;
        maxPrice = _bound(maxPrice, 1, 60e6);
        vm.prank(c);
        try billing.setMaxPrice(a.planId, maxPrice) {
            acceptedMaxPrice[c][a.planId] = maxPrice;
            _done("setMaxPrice");
        } catch {}
    }

    function cancel(uint256 actorSeed) external {
        address c = _customer(actorSeed);
        uint16 planId = billing.accountOf(c).planId;
        if (planId == 0) return;
        uint256[] memory before = _balances();
        vm.prank(c);
        try billing.cancel(planId) {
            _done("cancel");
            _checkNoOtherFalls(before, address(0));
        } catch {}
    }

    function cancelNow(uint256 actorSeed) external {
        address c = _customer(actorSeed);
        uint16 planId = billing.accountOf(c).planId;
        if (planId == 0) return;
        _chargeByOwnAction(c, abi.encodeCall(billing.cancelNow, (planId)), "cancelNow");
    }

    function changePlan(uint256 actorSeed, uint256 planSeed, uint256 headroom) external {
        address c = _customer(actorSeed);
        uint16 planId = _plan(planSeed);
        uint256 price = billing.planOf(planId).price;
        uint256 maxPrice = price + _bound(headroom, 0, price);
        _chargeByOwnAction(c, abi.encodeCall(billing.changePlan, (planId, maxPrice)), "changePlan");
        if (_lastOk) acceptedMaxPrice[c][planId] = maxPrice;
    }

    function setSpendingCap(uint256 actorSeed, uint256 cap) external {
        address c = _customer(actorSeed);
        cap = _bound(cap, 0, 50e6);
        vm.prank(c);
        try billing.setSpendingCap(cap) {
            _done("setSpendingCap");
        } catch {}
    }

    function buyPpv(uint256 actorSeed) external {
        _chargeByOwnAction(_customer(actorSeed), abi.encodeCall(billing.buyPpv, (ppvEvent)), "buyPpv");
    }

    function disputePpv(uint256 actorSeed) external {
        address c = _customer(actorSeed);
        _openDispute(c, abi.encodeCall(billing.disputePpv, (ppvEvent)));
    }

    function disputeUsage(uint256 batchSeed, uint256 lineSeed) external {
        if (batches.length == 0) return;
        SettledBatch storage b = batches[batchSeed % batches.length];
        uint256 count = b.lines.length / 8;
        uint32 index = uint32(lineSeed % count);
        address c = billing.customerAddress(_idAt(b.lines, index));
        if (c == address(0)) return;
        _openDispute(
            c, abi.encodeCall(billing.disputeUsage, (b.settlement, b.batchId, index, b.lines, b.declined))
        );
    }

    // ----- keeper, oracle, operator, arbiter, providers -----

    function renew(uint256 planSeed, uint256 mask) external {
        uint16 planId = _plan(planSeed);
        bytes memory ids;
        for (uint256 i; i < customers.length; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            uint32 id = billing.customerIdOf(customers[i]);
            if (id != 0) ids = bytes.concat(ids, bytes4(id));
            if ((mask >> (i + 16)) & 1 == 1 && id != 0) ids = bytes.concat(ids, bytes4(id)); // listed twice
        }
        _renewal(abi.encodeCall(billing.renew, (planId, ids)));
    }

    function performUpkeep(uint256 planSeed) external {
        uint16 planId = _plan(planSeed);
        (bool needed, bytes memory data) = billing.checkUpkeep(abi.encode(planId, uint32(0), uint32(50), uint32(20)));
        if (!needed) return;
        _renewal(abi.encodeCall(billing.performUpkeep, (data)));
    }

    function settleUsage(uint256 seed, uint8 lineCount, uint8 signerSeed) external {
        uint256 n = _bound(lineCount, 1, 6);
        bytes memory lines;
        for (uint256 i; i < n; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            uint32 id = billing.customerIdOf(customers[s % customers.length]);
            if (s % 13 == 0) id = billing.customerCount() + 1; // an unknown id: declined, not a revert
            uint32 quantity = uint32((s >> 64) % 50_000);
            lines = bytes.concat(lines, bytes4(id), bytes4(quantity));
        }
        uint64 batchId = nextBatchId++;
        uint32 windowStart = uint32(block.timestamp - DAY);
        IBillingTypes.UsageBatch memory header = IBillingTypes.UsageBatch({
            batchId: batchId,
            deadline: uint64(block.timestamp + DAY),
            meterId: meter,
            windowStart: windowStart,
            windowEnd: windowStart + uint32(DAY),
            recordsRoot: keccak256(abi.encode(seed))
        });
        bytes[] memory signatures = _sign(header, lines, signerSeed);
        uint256[] memory before = _balances();
        vm.recordLogs();
        try billing.settleUsage(header, lines, signatures) {
            _done("settleUsage");
            _recordBatch(header, lines, signatures);
            _checkUsageCharges(before, lines);
        } catch {
            _expectPaused("settleUsage");
            vm.getRecordedLogs();
        }
    }

    /// @dev I4: the batch most recently settled, sent again exactly as signed, must be refused.
    function replayUsage(uint256 batchSeed) external {
        if (batches.length == 0) return;
        SettledBatch storage b = batches[batchSeed % batches.length];
        bytes[] memory signatures = new bytes[](2);
        signatures[0] = b.signatures0;
        signatures[1] = b.signatures1;
        try billing.settleUsage(b.header, b.lines, signatures) {
            _violate("I4: a usage batch was accepted twice");
        } catch {}
    }

    function resolveDispute(uint256 seed, bool refund) external {
        if (disputes.length == 0) return;
        uint64 id = disputes[seed % disputes.length];
        IBillingTypes.DisputeView memory d = billing.disputeOf(id);
        if (d.status != 1) return;
        uint256 before = billing.balanceOf(d.customer);
        uint256[] memory others = _balances();
        vm.prank(arbiter);
        billing.resolveDispute(id, refund);
        uint256 afterBalance = billing.balanceOf(d.customer);
        if (refund) {
            if (afterBalance - before != d.amount) _violate("I6: a dispute refund returned another amount");
            refunded += d.amount;
            _count("dispute refunded");
        } else if (afterBalance != before) {
            _violate("I6: an upheld dispute changed the customer's balance");
        }
        _checkNoOtherFalls(others, address(0));
        _done("resolveDispute");
    }

    function releaseEscrow(uint256 splitSeed, uint256 daySeed) external {
        uint16 splitId = splits[splitSeed % splits.length];
        uint256 today = block.timestamp / DAY;
        uint32 day = uint32(_bound(daySeed, startDay, today));
        uint256 amount = billing.escrowOf(splitId, day);
        uint256 earningsBefore = _sumEarnings();
        try billing.releaseEscrow(splitId, day) {
            // I3: the provider shares of the released money sum to it exactly
            if (_sumEarnings() - earningsBefore != amount) _violate("I3: provider shares do not sum to the charge");
            if (amount != 0) _count("escrow released to providers");
            _done("releaseEscrow");
        } catch {
            _expectPaused("releaseEscrow");
        }
    }

    function withdrawEarnings(uint256 payeeSeed) external {
        address p = payees[payeeSeed % payees.length];
        uint256 earnings = billing.earningsOf(p);
        if (earnings == 0) return;
        uint256 wallet = token.balanceOf(p);
        vm.prank(p);
        try billing.withdrawEarnings() {
            if (token.balanceOf(p) - wallet != earnings) _violate("provider withdrawal paid another amount");
            earningsWithdrawn += earnings;
            _done("withdrawEarnings");
        } catch {
            // payouts stop while paused (containment of a compromised oracle); customers' money does not
            _expectPaused("a provider's withdrawal");
        }
    }

    function setPlanPrice(uint256 planSeed, uint256 price) external {
        uint16 planId = _plan(planSeed);
        price = _bound(price, 1e6, 40e6);
        vm.prank(admin);
        billing.setPlanPrice(planId, price);
        _done("setPlanPrice");
    }

    function setMeterPrice(uint256 price) external {
        vm.prank(admin);
        billing.setMeterPrice(meter, _bound(price, 1, 100));
        _done("setMeterPrice");
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 1 hours, 4 days));
        _done("warp");
    }

    function togglePause(uint256 seed) external {
        bool paused = _paused();
        if (!paused && seed % 4 != 0) return; // paused at most a quarter of the time: the rest needs exercise
        vm.prank(admin);
        if (paused) billing.unpause();
        else billing.pause();
        _done("togglePause");
    }

    // ----- internals -----

    bool internal _lastOk;

    function _chargeByOwnAction(address c, bytes memory call, string memory what) internal {
        uint256 before = billing.balanceOf(c);
        uint256[] memory others = _balances();
        vm.prank(c);
        (bool ok,) = address(billing).call(call);
        _lastOk = ok;
        if (!ok) return;
        uint256 afterBalance = billing.balanceOf(c);
        if (afterBalance < before) charged += before - afterBalance;
        else refunded += afterBalance - before;
        _checkNoOtherFalls(others, c);
        _done(what);
    }

    function _openDispute(address c, bytes memory call) internal {
        uint256 before = billing.balanceOf(c);
        uint256[] memory others = _balances();
        vm.prank(c);
        (bool ok, bytes memory ret) = address(billing).call(call);
        if (!ok) return;
        uint64 id = abi.decode(ret, (uint64));
        disputes.push(id);
        disputeAmountAtOpening[id] = billing.disputeOf(id).amount;
        if (billing.balanceOf(c) != before) _violate("opening a dispute moved the customer's balance");
        _checkNoOtherFalls(others, address(0));
        _done("dispute opened");
    }

    function _renewal(bytes memory call) internal {
        uint256[] memory before = _balances();
        uint40[] memory paidBefore = _paidThrough();
        uint16[] memory planBefore = new uint16[](customers.length);
        for (uint256 i; i < customers.length; ++i) {
            planBefore[i] = billing.accountOf(customers[i]).planId;
        }
        (bool ok,) = address(billing).call(call);
        if (!ok) {
            _expectPaused("renew");
            return;
        }
        _done("renewal call");
        for (uint256 i; i < customers.length; ++i) {
            uint256 afterBalance = billing.balanceOf(customers[i]);
            if (afterBalance > before[i]) _violate("a renewal raised a balance");
            uint256 taken = before[i] - afterBalance;
            if (taken == 0) continue;
            charged += taken;
            _count("customer renewed and charged");
            // I5 and I7: a renewal charge is backed by the customer's subscription, never above the price the
            // customer accepted, and moves the paid-through time forward (one charge per period)
            if (planBefore[i] == 0) _violate("I7: a renewal charged a customer without a subscription");
            // (the plan after the renewal: a scheduled downgrade renews into its target, at the price the
            // customer accepted for the target)
            uint16 planAfter = billing.accountOf(customers[i]).planId;
            if (taken > acceptedMaxPrice[customers[i]][planAfter]) _violate("I5: renewal above maxPrice");
            if (billing.accountOf(customers[i]).paidThrough <= paidBefore[i]) {
                _violate("I5: a renewal charged without extending the period");
            }
        }
        // I5: the same call again, at the same moment, charges nobody
        uint256[] memory again = _balances();
        (ok,) = address(billing).call(call);
        if (ok) _checkNoOtherFalls(again, address(0));
    }

    function _checkUsageCharges(uint256[] memory before, bytes memory lines) internal {
        for (uint256 i; i < customers.length; ++i) {
            uint256 afterBalance = billing.balanceOf(customers[i]);
            if (afterBalance > before[i]) _violate("usage raised a balance");
            uint256 taken = before[i] - afterBalance;
            if (taken == 0) continue;
            charged += taken;
            _count("customer charged for usage");
            // I7: the customer has lines in the batch, and is charged at most their signed quantities at the
            // meter's price, each line rounded up
            uint32 id = billing.customerIdOf(customers[i]);
            IBillingTypes.MeterView memory m = billing.meterOf(meter);
            uint256 signed;
            bool hasLine;
            for (uint256 at; at < lines.length; at += 8) {
                if (_idAt(lines, at / 8) != id) continue;
                hasLine = true;
                uint256 q = uint32(_slice4(lines, at + 4));
                signed += (q * m.unitPrice + m.unitScale - 1) / m.unitScale;
            }
            if (!hasLine) _violate("I7: usage charged a customer without a line");
            if (taken > signed) _violate("I7: usage charged more than the signed lines");
        }
    }

    function _recordBatch(IBillingTypes.UsageBatch memory header, bytes memory lines, bytes[] memory signatures)
        internal
    {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        SettledBatch storage b = batches.push();
        b.batchId = header.batchId;
        b.header = header;
        b.lines = lines;
        b.signatures0 = signatures[0];
        b.signatures1 = signatures[1];
        b.settledAt = block.timestamp;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(billing)) continue;
            if (logs[i].topics[0] == USAGE_SETTLED) {
                (b.settlement,,,,,) =
                    abi.decode(logs[i].data, (IBillingTypes.UsageSettlement, uint32, uint32, bytes32, uint256, bytes));
            } else if (logs[i].topics[0] == USAGE_DECLINED) {
                (uint32 lineIndex,,,) = abi.decode(logs[i].data, (uint32, uint32, uint256, uint8));
                b.declined.push(lineIndex);
            }
        }
    }

    function _sign(IBillingTypes.UsageBatch memory h, bytes memory lines, uint8 signerSeed)
        internal
        view
        returns (bytes[] memory signatures)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("StreamLedger Billing"),
                keccak256("1"),
                block.chainid,
                address(billing)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                USAGE_BATCH_TYPEHASH,
                h.batchId,
                h.deadline,
                h.meterId,
                h.windowStart,
                h.windowEnd,
                h.recordsRoot,
                keccak256(lines)
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domain, structHash));
        // two of the three signers, in ascending address order
        uint256 skip = signerSeed % 3;
        signatures = new bytes[](2);
        uint256 k;
        for (uint256 i; i < 3; ++i) {
            if (i == skip) continue;
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(oracleKeys[i], digest);
            signatures[k++] = abi.encodePacked(r, s, v);
        }
    }

    function _balances() internal view returns (uint256[] memory out) {
        out = new uint256[](customers.length);
        for (uint256 i; i < customers.length; ++i) {
            out[i] = billing.balanceOf(customers[i]);
        }
    }

    function _paidThrough() internal view returns (uint40[] memory out) {
        out = new uint40[](customers.length);
        for (uint256 i; i < customers.length; ++i) {
            out[i] = billing.accountOf(customers[i]).paidThrough;
        }
    }

    /// @dev I7: nobody's balance but `allowed`'s may fall in this action.
    function _checkNoOtherFalls(uint256[] memory before, address allowed) internal {
        for (uint256 i; i < customers.length; ++i) {
            if (customers[i] == allowed) continue;
            if (billing.balanceOf(customers[i]) < before[i]) _violate("I7: a balance fell without a cause");
        }
    }

    function _sumEarnings() internal view returns (uint256 sum) {
        for (uint256 i; i < payees.length; ++i) {
            sum += billing.earningsOf(payees[i]);
        }
    }

    /// @dev For calls that nothing but a pause may refuse (a covered deposit, a fresh signed batch, a renewal
    /// run, a release of a past day's escrow).
    function _expectPaused(string memory what) internal {
        if (!_paused()) _violate(string.concat(what, " was refused while not paused"));
    }

    function _paused() internal view returns (bool) {
        (bool ok, bytes memory ret) = address(billing).staticcall(abi.encodeWithSignature("paused()"));
        return ok && abi.decode(ret, (bool));
    }

    function _done(string memory what) internal {
        ++transitions;
        _count(what);
    }

    function _count(string memory what) internal {
        if (done[what]++ == 0) kinds.push(what);
    }

    /// @dev Kinds of successful calls seen so far (for the run's summary).
    function kindCount() external view returns (uint256) {
        return kinds.length;
    }

    function kind(uint256 i) external view returns (string memory) {
        return kinds[i];
    }

    function _violate(string memory message) internal {
        if (bytes(violation).length == 0) violation = message;
    }

    function _customer(uint256 seed) internal view returns (address) {
        return customers[seed % customers.length];
    }

    function _plan(uint256 seed) internal view returns (uint16) {
        return plans[seed % plans.length];
    }

    function _idAt(bytes memory lines, uint256 index) internal pure returns (uint32) {
        return uint32(bytes4(_slice4(lines, index * 8)));
    }

    function _slice4(bytes memory b, uint256 at) internal pure returns (bytes4 out) {
        assembly ("memory-safe") {
            out := mload(add(add(b, 32), at))
        }
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (hi <= lo) return lo;
        return lo + (x % (hi - lo + 1));
    }
}
