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

    IIptvBilling internal billing;
    TestStablecoin internal token;
    BillingHandler internal handler;

    address[] internal payees;
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
        address[] memory customers = new address[](5);
        for (uint256 i; i < 5; ++i) {
            customers[i] = address(uint160(0xC0C0 + i));
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
        _I1_solvency();
        _I2_conservation();
        _I6_disputedFundsDoNotMove();
        _noActionViolatedAnInvariant();
    }

    /// @notice The first per-action violation the handler saw (I3 to I7 and the no-trap checks), if any.
    function _noActionViolatedAnInvariant() internal view {
        string memory violation = handler.violation();
        require(bytes(violation).length == 0, violation);
    }

    /// @notice I1 solvency: the contract holds every token it owes (exactly: nothing is created or lost).
    function _I1_solvency() internal view {
        (uint256 owed,,,) = _owed();
        uint256 held = token.balanceOf(address(billing));
        require(held >= owed, "I1: insolvent");
        require(held == owed, "I1: tokens held that nobody is owed");
    }

    /// @notice I2 conservation: deposits = withdrawals + balances + charged - refunded, and what was charged
    /// net of refunds is exactly what the providers' side holds or was paid.
    function _I2_conservation() internal view {
        (, uint256 balances, uint256 providerSide,) = _owed();
        uint256 providersTotal = providerSide + handler.earningsWithdrawn();
        require(
            handler.deposited() == handler.withdrawn() + balances + handler.charged() - handler.refunded(),
            "I2: deposits != withdrawals + balances + charged - refunded"
        );
        require(handler.charged() - handler.refunded() == providersTotal, "I2: charges not where providers are paid");
    }

    /// @notice I6: a disputed amount stays frozen at what was disputed until the arbiter decides.
    function _I6_disputedFundsDoNotMove() internal view {
        uint256 n = handler.disputeCount();
        for (uint256 i; i < n; ++i) {
            uint64 id = handler.disputes(i);
            IBillingTypes.DisputeView memory d = billing.disputeOf(id);
            require(d.amount == handler.disputeAmountAtOpening(id), "I6: a disputed amount changed");
        }
    }

    /// @dev (everything owed, customer balances, escrow + open disputes + provider earnings, open disputes)
    function _owed() internal view returns (uint256 owed, uint256 balances, uint256 providerSide, uint256 open) {
        for (uint256 i; i < handler.customerCount(); ++i) {
            balances += billing.balanceOf(handler.customers(i));
        }
        for (uint256 s; s < handler.splitCount(); ++s) {
            uint16 splitId = handler.splits(s);
            for (uint256 day = handler.startDay(); day <= handler.lastEscrowDay(); ++day) {
                providerSide += billing.escrowOf(splitId, uint32(day));
            }
        }
        for (uint256 i; i < handler.disputeCount(); ++i) {
            IBillingTypes.DisputeView memory d = billing.disputeOf(handler.disputes(i));
            if (d.status == 1) open += d.amount;
        }
        providerSide += open;
        for (uint256 i; i < handler.payeeCount(); ++i) {
            providerSide += billing.earningsOf(handler.payees(i));
        }
        owed = balances + providerSide;
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
