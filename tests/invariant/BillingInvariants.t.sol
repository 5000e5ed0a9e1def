// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IIptvBilling} from "../../interfaces/IIptvBilling.sol";
import {IBillingTypes} from "../../interfaces/IBillingTypes.sol";
import {IptvBilling} from "../../contracts/IptvBilling.sol";
import {ViewModule} from "../../contracts/modules/ViewModule.sol";
import {CatalogueModule} from "../../contracts/modules/CatalogueModule.sol";
import {SubscriptionModule} from "../../contracts/modules/SubscriptionModule.sol";
import {UsageModule} from "../../contracts/modules/UsageModule.sol";
import {TestStablecoin} from "../../contracts/testing/TestStablecoin.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {InvariantTest} from "./Vm.sol";
import {BillingHandler} from "./BillingHandler.sol";

/// @title The billing system's invariants (tests/README.md lists them)
/// @notice Forge calls the handler's actions at random (runs x depth per foundry.toml profile) and checks
/// every invariant_* function after each call.
contract BillingInvariants is InvariantTest {
    uint256 internal constant DAY = 86_400;
    string internal constant RUNS_LOG = "build/forge-invariants/runs.log";
    /// @dev _escrow's storage slot in BillingStorage (`forge inspect IptvBilling storageLayout`)
    uint256 internal constant ESCROW_SLOT = 14;

    IIptvBilling internal billing;
    TestStablecoin internal token;
    BillingHandler internal handler;

    address[] internal payees;
    address[] internal customers;
    uint16[] internal splits;
    uint16[] internal plans;
    uint256[] internal oracleKeys;
    address internal constant ARBITER = address(0xA4B1);

    function setUp() public {
        vm.warp(1_780_000_000);
        token = new TestStablecoin("Test USD", "tUSD", 6);
        address view_ = address(new ViewModule());
        address chain = address(new UsageModule(address(new SubscriptionModule(address(new CatalogueModule(view_))))));
        IptvBilling deployed = new IptvBilling(IERC20(address(token)), address(this), chain);
        billing = IIptvBilling(address(deployed));
        deployed.grantRole(keccak256("OPERATOR_ROLE"), address(this));
        deployed.grantRole(keccak256("ARBITER_ROLE"), ARBITER);
        _providersAndSplits();
        _plans();
        uint16 meter = billing.addMeter("premium minutes", 7, 3, splits[0]); // 7/3 of a unit a minute: rounds
        uint32 ppv = billing.addPpvEvent(
            "final",
            4_990_000,
            100,
            uint40(block.timestamp + 20 * DAY),
            uint40(block.timestamp + 20 * DAY),
            uint40(block.timestamp + 21 * DAY),
            splits[0]
        );
        _oracle();
        for (uint256 i; i < 5; ++i) {
            customers.push(address(uint160(0xC0C0 + i)));
        }
        // the handler acts as operator, pauser (the admin holds that role) and arbiter through pranks
        handler =
            new BillingHandler(billing, token, address(this), ARBITER, customers, payees, plans, splits, meter, ppv, oracleKeys);
        targetContract(address(handler));
        // a running business from the first call: every customer funded, three of them subscribed
        for (uint256 i; i < 5; ++i) {
            handler.deposit(i, 60e6);
        }
        handler.subscribe(0, 0, 0);
        handler.subscribe(1, 2, 5e6);
        handler.subscribe(2, 0, 10e6);
        _checkEscrowSlot();
    }

    function _providersAndSplits() internal {
        for (uint256 i; i < 4; ++i) {
            payees.push(address(uint160(0xB0B0 + i)));
        }
        uint16[] memory ids3 = new uint16[](3);
        uint16[] memory bps3 = new uint16[](3);
        (ids3[0], bps3[0]) = (billing.addProvider(payees[0], "platform"), 5000);
        (ids3[1], bps3[1]) = (billing.addProvider(payees[1], "studio"), 3333);
        (ids3[2], bps3[2]) = (billing.addProvider(payees[2], "sports"), 1667);
        uint16[] memory ids1 = new uint16[](1);
        uint16[] memory bps1 = new uint16[](1);
        (ids1[0], bps1[0]) = (billing.addProvider(payees[3], "reseller"), 10000);
        splits.push(billing.addSplit(ids3, bps3));
        splits.push(billing.addSplit(ids1, bps1));
    }

    function _plans() internal {
        uint256[] memory basic = new uint256[](1);
        basic[0] = 1;
        plans.push(
            billing.addPlan(
                IBillingTypes.PlanParams("basic", 2_490_000, uint32(7 * DAY), 0, uint32(5 * DAY), 2, splits[0], false, basic)
            )
        );
        // same period as basic, another split: plan changes between the two are allowed
        plans.push(
            billing.addPlan(
                IBillingTypes.PlanParams("basic plus", 3_490_000, uint32(7 * DAY), 0, uint32(5 * DAY), 3, splits[1], false, basic)
            )
        );
        uint256[] memory premium = new uint256[](2);
        (premium[0], premium[1]) = (1, 2);
        plans.push(
            billing.addPlan(
                IBillingTypes.PlanParams(
                    "premium", 19_990_001, uint32(30 * DAY), uint32(3 * DAY), uint32(3 * DAY), 4, splits[1], false, premium
                )
            )
        );
    }

    function _oracle() internal {
        oracleKeys.push(0x5101);
        oracleKeys.push(0x5102);
        oracleKeys.push(0x5103);
        for (uint256 i; i < 3; ++i) {
            for (uint256 j = i + 1; j < 3; ++j) {
                if (vm.addr(oracleKeys[j]) < vm.addr(oracleKeys[i])) {
                    (oracleKeys[i], oracleKeys[j]) = (oracleKeys[j], oracleKeys[i]);
                }
            }
        }
        address[] memory signers = new address[](3);
        for (uint256 i; i < 3; ++i) {
            signers[i] = vm.addr(oracleKeys[i]);
        }
        billing.setSigners(signers, new address[](0), 2);
    }

    /// @notice Every invariant, after every call (one campaign: forge runs a campaign per invariant function).
    function invariant_billing() public view {
        Totals memory t = _totals(); // checks I6 on the way: it reads every dispute
        _I1_solvency(t);
        _I2_conservation(t);
        _noActionViolatedAnInvariant();
    }

    /// @dev What the contract owes, from its own views and storage: customer balances, escrow buckets, open
    /// disputes and provider earnings.
    struct Totals {
        uint256 balances;
        uint256 escrow;
        uint256 disputed;
        uint256 earnings;
    }

    /// @notice The first per-action violation the handler saw (I3 to I7 and the no-trap checks), if any.
    function _noActionViolatedAnInvariant() internal view {
        string memory violation = handler.violation();
        require(bytes(violation).length == 0, violation);
    }

    /// @notice I1 solvency: the contract holds every token it owes (exactly: nothing is created or lost).
    function _I1_solvency(Totals memory t) internal view {
        uint256 owed = t.balances + t.escrow + t.disputed + t.earnings;
        uint256 held = token.balanceOf(address(billing));
        require(held >= owed, "I1: insolvent");
        require(held == owed, "I1: tokens held that nobody is owed");
    }

    /// @notice I2 conservation: deposits = withdrawals + balances + charged - refunded, and what was charged
    /// net of refunds is exactly what the providers' side holds or was paid.
    function _I2_conservation(Totals memory t) internal view {
        uint256 charged = handler.charged();
        uint256 refunded = handler.refunded();
        require(
            handler.deposited() == handler.withdrawn() + t.balances + charged - refunded,
            "I2: deposits != withdrawals + balances + charged - refunded"
        );
        uint256 providersTotal = t.escrow + t.disputed + t.earnings + handler.earningsWithdrawn();
        require(charged - refunded == providersTotal, "I2: charges not where providers are paid");
    }

    function _totals() internal view returns (Totals memory t) {
        for (uint256 i; i < customers.length; ++i) {
            t.balances += billing.balanceOf(customers[i]);
        }
        uint256 first = handler.startDay();
        uint256 last = handler.lastEscrowDay();
        for (uint256 s; s < splits.length; ++s) {
            bytes32 inner = keccak256(abi.encode(uint256(splits[s]), ESCROW_SLOT));
            for (uint256 day = first; day <= last; ++day) {
                t.escrow += uint256(vm.load(address(billing), keccak256(abi.encode(day, inner))));
            }
        }
        uint256 n = handler.disputeCount();
        for (uint256 i; i < n; ++i) {
            uint64 id = handler.disputes(i);
            IBillingTypes.DisputeView memory d = billing.disputeOf(id);
            // I6: a disputed amount stays frozen at what was disputed until the arbiter decides
            require(d.amount == handler.disputeAmountAtOpening(id), "I6: a disputed amount changed");
            if (d.status == 1) t.disputed += d.amount;
        }
        for (uint256 i; i < payees.length; ++i) {
            t.earnings += billing.earningsOf(payees[i]);
        }
    }

    /// @dev escrowOf(splitId, day) read from storage: the scan covers every day of the run, and a storage read
    /// costs a fraction of a call through the module chain. setUp checks it against the view.
    function _escrow(uint16 splitId, uint256 day) internal view returns (uint256) {
        bytes32 inner = keccak256(abi.encode(uint256(splitId), ESCROW_SLOT));
        return uint256(vm.load(address(billing), keccak256(abi.encode(day, inner))));
    }

    function _checkEscrowSlot() internal view {
        uint256 matched;
        for (uint256 s; s < splits.length; ++s) {
            for (uint256 day = handler.startDay(); day <= handler.lastEscrowDay(); ++day) {
                uint256 viewed = billing.escrowOf(splits[s], uint32(day));
                require(_escrow(splits[s], day) == viewed, "ESCROW_SLOT is not _escrow's slot: update it");
                if (viewed != 0) ++matched;
            }
        }
        require(matched != 0, "no escrow bucket to check ESCROW_SLOT against");
    }

    /// @notice After each run, one line per kind of successful call into build/forge-invariants/runs.log,
    /// which tools/invariants.py adds up: forge's own call count includes calls that changed nothing.
    function afterInvariant() public {
        string memory line = string.concat("run transitions=", vm.toString(handler.transitions()));
        for (uint256 i; i < handler.kindCount(); ++i) {
            string memory what = handler.kind(i);
            line = string.concat(line, "|", what, "=", vm.toString(handler.done(what)));
        }
        vm.writeLine(RUNS_LOG, line);
    }
}
