// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Proxy} from "@openzeppelin/contracts/proxy/Proxy.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IBillingUsage} from "../../interfaces/IBillingUsage.sol";
import {BillingStorage} from "../BillingStorage.sol";
import {Account, AccountLib} from "../libraries/AccountLib.sol";
import {BillingMath} from "../libraries/BillingMath.sol";

/// @title UsageModule
/// @notice Signed usage and rental batches, spending caps, pay-per-view purchases and disputes. Runs only by
/// delegatecall from IptvBilling, on its storage; calls it does not implement go on to SubscriptionModule.
/// The EIP-712 domain's verifying contract is therefore the billing address (OpenZeppelin's EIP712 rebuilds
/// the separator whenever address(this) differs from the address it was deployed at).
contract UsageModule is IBillingUsage, BillingStorage, EIP712, Proxy {
    /// @dev The lines are signed as they are sent: packed bytes (4-byte customer id, 4-byte quantity per
    /// line), hashed once per batch. Hashing a Line[] struct array would cost about 95 gas more per line.
    bytes32 internal constant USAGE_BATCH_TYPEHASH = keccak256(
        "UsageBatch(uint64 batchId,uint64 deadline,uint16 meterId,uint32 windowStart,uint32 windowEnd,"
        "bytes32 recordsRoot,bytes lines)"
    );
    /// @dev Rentals packed as 4-byte customer id, 4-byte title id, 5-byte first-play time each.
    bytes32 internal constant RENTAL_BATCH_TYPEHASH = keccak256("RentalBatch(uint64 batchId,uint64 deadline,bytes rentals)");

    uint8 internal constant DECLINED_CAP = 1;
    uint8 internal constant DECLINED_BALANCE = 2;
    uint8 internal constant DECLINED_TITLE = 3;
    uint8 internal constant DECLINED_RENTED = 4;

    uint256 private constant LINE_BYTES = 8;
    uint256 private constant RENTAL_BYTES = 13;

    address private immutable _next;

    constructor(address subscriptionModule) EIP712("StreamLedger Billing", "1") {
        if (subscriptionModule == address(0)) revert Billing_InvalidSetting("next module");
        _next = subscriptionModule;
    }

    function _implementation() internal view override returns (address) {
        return _next;
    }

    // =====================================================================================================
    // Oracle settlement
    // =====================================================================================================

    /// @dev Working state of one usage batch (a struct keeps the stack shallow); the assembly loop reads
    /// fields by offset: unitPrice 0x00, unitScale 0x20, capUnit 0x40, capEpoch 0x60, declinedCount 0x80,
    /// charged 0xa0, declined 0xc0, accountsBase 0xe0, capsSlot 0x100.
    struct UsagePass {
        uint256 unitPrice;
        uint256 unitScale;
        uint256 capUnit;
        uint256 capEpoch;
        uint256 declinedCount;
        uint256 charged;
        uint256[] declined; // per declined line: index << 8 | reason
        uint256 accountsBase; // 0xe0: storage slot of account 0
        uint256 capsSlot; //     0x100: the _caps mapping's slot
    }

    /// @inheritdoc IBillingUsage
    function settleUsage(UsageBatch calldata batch, bytes calldata lines, bytes[] calldata signatures)
        external
        whenNotPaused
        returns (uint256 charged)
    {
        _checkFresh(batch.batchId, batch.deadline);
        if (lines.length == 0 || lines.length % LINE_BYTES != 0) revert Billing_MalformedUsage("lines");
        if (batch.windowEnd < batch.windowStart) revert Billing_MalformedUsage("window");
        Meter memory meter = _meters[batch.meterId];
        if (!meter.exists) revert Billing_UnknownMeter(batch.meterId);
        if (!meter.active) revert Billing_MeterInactive(batch.meterId);
        UsagePass memory pass = UsagePass({
            unitPrice: meter.unitPrice,
            unitScale: meter.unitScale,
            capUnit: _capUnit,
            capEpoch: _capEpoch(),
            declinedCount: 0,
            charged: 0,
            declined: new uint256[](lines.length / LINE_BYTES),
            accountsBase: 0,
            capsSlot: 0
        });
        _chargeLines(lines, pass);
        _verify(_usageStructHash(batch, keccak256(lines)), signatures);
        return _settle(batch, meter, lines, pass);
    }

    function _usageStructHash(UsageBatch calldata batch, bytes32 linesDigest) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                USAGE_BATCH_TYPEHASH,
                batch.batchId,
                batch.deadline,
                batch.meterId,
                batch.windowStart,
                batch.windowEnd,
                batch.recordsRoot,
                linesDigest
            )
        );
    }

    /// @dev Effects of a verified batch: escrow the total, report declined lines, and store the commitment a
    /// dispute must restate.
    function _settle(UsageBatch calldata batch, Meter memory meter, bytes calldata lines, UsagePass memory pass)
        private
        returns (uint256 charged)
    {
        charged = pass.charged;
        uint32 day = BillingMath.releaseDay(block.timestamp + _disputeWindow);
        if (charged != 0) _escrow[meter.splitId][day] += charged;
        UsageSettlement memory settlement =
            UsageSettlement(batch.meterId, meter.unitPrice, meter.unitScale, meter.splitId, day);
        uint32[] memory declined = _reportDeclined(batch.batchId, lines, pass, meter);
        _batchCommitments[batch.batchId] = _usageCommitment(keccak256(lines), settlement, _declinedDigest(declined));
        emit UsageSettled(
            batch.batchId, batch.meterId, settlement, batch.windowStart, batch.windowEnd, batch.recordsRoot, charged, lines
        );
    }

    /// @dev Emits UsageDeclined for every declined line; returns their indices, in line order.
    function _reportDeclined(uint64 batchId, bytes calldata lines, UsagePass memory pass, Meter memory meter)
        private
        returns (uint32[] memory indices)
    {
        uint256 count = pass.declinedCount;
        indices = new uint32[](count);
        for (uint256 i; i < count; ++i) {
            uint256 entry = pass.declined[i];
            uint32 index = uint32(entry >> 8);
            indices[i] = index;
            uint256 at = uint256(index) * LINE_BYTES;
            uint32 customerId = uint32(bytes4(lines[at:at + 4]));
            uint256 amount = BillingMath.usageCharge(uint32(bytes4(lines[at + 4:at + 8])), meter.unitPrice, meter.unitScale);
            emit UsageDeclined(batchId, index, customerId, amount, uint8(entry));
        }
    }

    /// @dev The digest of a batch's declined line indices: keccak256(abi.encodePacked(uint32[])), each index
    /// padded to 32 bytes as abi.encodePacked does for arrays. Settlement and disputes use this one function.
    function _declinedDigest(uint32[] memory declined) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(declined));
    }

    /// @dev Charges every line: the customer's account word is charged ceil(quantity * unitPrice / unitScale)
    /// when the spending cap and the balance allow, or the line goes to pass.declined. One SLOAD and one
    /// SSTORE per charged customer (two reads when a cap period rolls over). Field layout as AccountLib:
    /// balance bits 0..79, flags 184..191 (FLAG_HAS_CAP = 16), capEpoch 192..207, capRemaining 208..255.
    /// Arithmetic cannot overflow: quantities are 32-bit and prices 96-bit; the balance subtraction runs only
    /// when the balance field covers the amount. Lines of ids never registered read an empty word (balance
    /// 0) and are declined, never written.
    function _chargeLines(bytes calldata lines, UsagePass memory pass) private {
        // During the loop, pass.declinedCount holds the write pointer into pass.declined's elements.
        uint256[] memory declined = pass.declined;
        assembly ("memory-safe") {
            mstore(add(pass, 0x80), add(declined, 32))
        }
        assembly ("memory-safe") {
            mstore(add(pass, 0x100), _caps.slot)
            mstore(0, _accounts.slot)
            mstore(add(pass, 0xe0), keccak256(0, 32))
            let cptr := lines.offset
            let cend := add(lines.offset, lines.length)
            for {} lt(cptr, cend) { cptr := add(cptr, 8) } {
                let id := calldataload(cptr)
                let amount := and(shr(192, id), 0xffffffff) // the quantity, for now
                id := shr(224, id)
                // ceil(quantity * unitPrice / unitScale)
                amount := mul(amount, mload(pass))
                {
                    let scale := mload(add(pass, 0x20))
                    amount := add(div(amount, scale), iszero(iszero(mod(amount, scale))))
                }
                if iszero(amount) { continue }
                let slot := add(mload(add(pass, 0xe0)), id)
                let acct := sload(slot)
                if and(shr(184, acct), 16) {
                    let remaining := shr(208, acct)
                    if iszero(eq(and(shr(192, acct), 0xffff), mload(add(pass, 0x60)))) {
                        // A new cap period: the allowance is the full cap again.
                        mstore(0, id)
                        mstore(32, mload(add(pass, 0x100)))
                        remaining := div(sload(keccak256(0, 64)), mload(add(pass, 0x40)))
                        if gt(remaining, 0xffffffffffff) { remaining := 0xffffffffffff }
                    }
                    let consumed :=
                        add(div(amount, mload(add(pass, 0x40))), iszero(iszero(mod(amount, mload(add(pass, 0x40))))))
                    if gt(consumed, remaining) {
                        // Declined: over the spending cap.
                        let at := mload(add(pass, 0x80))
                        mstore(at, or(shl(8, shr(3, sub(cptr, lines.offset))), 1))
                        mstore(add(pass, 0x80), add(at, 32))
                        continue
                    }
                    acct := or(
                        and(acct, 0xffffffffffffffffffffffffffffffffffffffffffffffff),
                        or(shl(192, mload(add(pass, 0x60))), shl(208, sub(remaining, consumed)))
                    )
                }
                if lt(and(acct, 0xffffffffffffffffffff), amount) {
                    // Declined: the balance does not cover it (or the id is not a customer's).
                    let at := mload(add(pass, 0x80))
                    mstore(at, or(shl(8, shr(3, sub(cptr, lines.offset))), 2))
                    mstore(add(pass, 0x80), add(at, 32))
                    continue
                }
                sstore(slot, sub(acct, amount))
                mstore(add(pass, 0xa0), add(mload(add(pass, 0xa0)), amount))
            }
        }
        assembly ("memory-safe") {
            mstore(add(pass, 0x80), shr(5, sub(mload(add(pass, 0x80)), add(declined, 32))))
        }
    }

    /// @inheritdoc IBillingUsage
    function settleRentals(RentalBatch calldata batch, bytes calldata rentals, bytes[] calldata signatures)
        external
        whenNotPaused
        returns (uint256 charged)
    {
        _checkFresh(batch.batchId, batch.deadline);
        uint256 n = rentals.length / RENTAL_BYTES;
        if (n == 0 || rentals.length % RENTAL_BYTES != 0) revert Billing_MalformedUsage("rentals");
        _verify(keccak256(abi.encode(RENTAL_BATCH_TYPEHASH, batch.batchId, batch.deadline, keccak256(rentals))), signatures);
        uint32 day = BillingMath.releaseDay(block.timestamp + _disputeWindow);
        for (uint256 i; i < n; ++i) {
            bytes calldata r = rentals[i * RENTAL_BYTES:(i + 1) * RENTAL_BYTES];
            charged += _chargeRental(
                batch.batchId, uint32(i), uint32(bytes4(r[0:4])), uint32(bytes4(r[4:8])), uint40(bytes5(r[8:13])), day
            );
        }
        _batchCommitments[batch.batchId] = keccak256(rentals);
    }

    function _chargeRental(uint64 batchId, uint32 index, uint32 id, uint32 titleId, uint40 firstPlayAt, uint32 day)
        private
        returns (uint256)
    {
        VodTitle memory title = _vodTitles[titleId];
        if (!title.exists || !title.active) {
            emit UsageDeclined(batchId, index, id, 0, DECLINED_TITLE);
            return 0;
        }
        Charge storage rental = _rentals[id][titleId];
        uint40 expiresAt = firstPlayAt + title.rentalSeconds;
        // One rental of a title at a time; a rental under dispute is kept until the arbiter decides.
        bool active = rental.status != 0 && rental.status != CHARGE_REFUNDED && rental.expiresAt > firstPlayAt;
        if (active || rental.status == CHARGE_DISPUTED) {
            emit UsageDeclined(batchId, index, id, title.price, DECLINED_RENTED);
            return 0;
        }
        (bool ok, uint8 reason) = _chargeCapped(id, title.price);
        if (!ok) {
            emit UsageDeclined(batchId, index, id, title.price, reason);
            return 0;
        }
        _escrow[title.splitId][day] += title.price;
        rental.amount = title.price;
        rental.status = CHARGE_PENDING;
        rental.expiresAt = expiresAt;
        rental.releaseDay = day;
        rental.batchId = batchId;
        emit RentalCharged(batchId, _customers[id], titleId, title.price, expiresAt, title.splitId, day);
        return title.price;
    }

    /// @dev Charges `amount` to registered customer `id` within their spending cap. Never reverts for the
    /// customer's state: returns (false, reason) instead.
    function _chargeCapped(uint32 id, uint256 amount) private returns (bool, uint8) {
        if (id == 0 || id >= _accounts.length) return (false, DECLINED_BALANCE);
        Account account = _account(id);
        if (account.hasFlag(AccountLib.FLAG_HAS_CAP)) {
            uint16 epoch = uint16(_capEpoch());
            uint256 remaining = account.capEpoch() == epoch ? account.capRemaining() : _capUnits(_caps[id]);
            uint256 consumed = BillingMath.mulDivUp(amount, 1, _capUnit);
            if (consumed > remaining) return (false, DECLINED_CAP);
            account = account.withCap(epoch, remaining - consumed);
        }
        if (account.balance() < amount) return (false, DECLINED_BALANCE);
        _store(id, account.withBalance(account.balance() - amount));
        return (true, 0);
    }

    // =====================================================================================================
    // Customers
    // =====================================================================================================

    /// @inheritdoc IBillingUsage
    function setSpendingCap(uint256 cap) external {
        uint32 id = _register(msg.sender);
        uint256 units = _capUnits(cap);
        if (units > AccountLib.MAX_CAP_UNITS) revert Billing_CapTooLarge(cap, AccountLib.MAX_CAP_UNITS * _capUnit);
        Account account = _account(id);
        uint16 epoch = uint16(_capEpoch());
        if (cap == 0) {
            account = account.withoutFlag(AccountLib.FLAG_HAS_CAP).withCap(0, 0);
        } else {
            // What was spent in this period stays spent: the new allowance is the new cap minus it.
            uint256 spent;
            if (account.hasFlag(AccountLib.FLAG_HAS_CAP) && account.capEpoch() == epoch) {
                uint256 previous = _capUnits(_caps[id]);
                spent = previous > account.capRemaining() ? previous - account.capRemaining() : 0;
            }
            account = account.withFlag(AccountLib.FLAG_HAS_CAP).withCap(epoch, units > spent ? units - spent : 0);
        }
        _caps[id] = cap;
        _store(id, account);
        emit SpendingCapSet(msg.sender, cap);
    }

    /// @inheritdoc IBillingUsage
    function buyPpv(uint32 eventId) external whenNotPaused {
        PpvEvent memory ev = _ppvEvents[eventId];
        if (!ev.exists) revert Billing_UnknownPpvEvent(eventId);
        if (block.timestamp >= ev.salesClose) revert Billing_PpvSalesClosed(eventId, ev.salesClose);
        uint32 id = _register(msg.sender);
        Charge storage purchase = _ppvPurchases[eventId][id];
        if (purchase.status != 0 && purchase.status != CHARGE_REFUNDED) revert Billing_PpvAlreadyBought(msg.sender, eventId);
        Account account = _account(id);
        if (account.balance() < ev.price) revert Billing_InsufficientBalance(msg.sender, ev.price, account.balance());
        _store(id, account.withBalance(account.balance() - ev.price));
        uint32 day = BillingMath.releaseDay(uint256(ev.viewEnd) + _disputeWindow);
        _escrow[ev.splitId][day] += ev.price;
        purchase.amount = ev.price;
        purchase.status = CHARGE_PENDING;
        purchase.expiresAt = ev.viewEnd;
        purchase.releaseDay = day;
        ++purchase.batchId; // for a purchase: its number (a refunded event may be bought again)
        emit PpvPurchased(msg.sender, eventId, ev.price, ev.splitId, day);
    }

    /// @inheritdoc IBillingUsage
    function disputeUsage(
        UsageSettlement calldata settlement,
        uint64 batchId,
        uint32 lineIndex,
        bytes calldata lines,
        uint32[] calldata declined
    ) external returns (uint64 disputeId) {
        bytes32 commitment = _usageCommitment(keccak256(lines), settlement, _declinedDigest(declined));
        if (commitment != _batchCommitments[batchId]) revert Billing_BatchMismatch(batchId);
        for (uint256 i; i < declined.length; ++i) {
            if (declined[i] == lineIndex) revert Billing_NothingToDispute();
        }
        Dispute memory dispute = _usageLine(settlement, lineIndex, lines);
        return _openDispute(keccak256(abi.encode(DISPUTE_USAGE, batchId, lineIndex)), dispute, settlement.releaseDay);
    }

    /// @dev The caller's charged line `lineIndex` as a dispute to open.
    function _usageLine(UsageSettlement calldata settlement, uint32 lineIndex, bytes calldata lines)
        private
        view
        returns (Dispute memory dispute)
    {
        uint256 at = uint256(lineIndex) * LINE_BYTES;
        if (at + LINE_BYTES > lines.length) revert Billing_NothingToDispute();
        uint32 id = uint32(bytes4(lines[at:at + 4]));
        if (id != _idOf(msg.sender)) revert Billing_NotYourCharge(msg.sender);
        uint256 quantity = uint32(bytes4(lines[at + 4:at + 8]));
        uint256 amount = BillingMath.usageCharge(quantity, settlement.unitPrice, settlement.unitScale);
        if (amount == 0) revert Billing_NothingToDispute();
        dispute = Dispute({
            customerId: id,
            amount: uint96(amount),
            splitId: settlement.splitId,
            kind: DISPUTE_USAGE,
            status: DISPUTE_OPEN,
            objectId: 0
        });
    }

    /// @inheritdoc IBillingUsage
    function disputePpv(uint32 eventId) external returns (uint64 disputeId) {
        uint32 id = _idOf(msg.sender);
        Charge storage purchase = _ppvPurchases[eventId][id];
        if (id == 0 || purchase.status != CHARGE_PENDING) revert Billing_NothingToDispute();
        purchase.status = CHARGE_DISPUTED;
        Dispute memory dispute = Dispute({
            customerId: id,
            amount: purchase.amount,
            splitId: _ppvEvents[eventId].splitId,
            kind: DISPUTE_PPV,
            status: DISPUTE_OPEN,
            objectId: eventId
        });
        bytes32 key = keccak256(abi.encode(DISPUTE_PPV, eventId, id, purchase.batchId));
        return _openDispute(key, dispute, purchase.releaseDay);
    }

    /// @inheritdoc IBillingUsage
    function disputeRental(uint32 titleId) external returns (uint64 disputeId) {
        uint32 id = _idOf(msg.sender);
        Charge storage rental = _rentals[id][titleId];
        if (id == 0 || rental.status != CHARGE_PENDING) revert Billing_NothingToDispute();
        rental.status = CHARGE_DISPUTED;
        Dispute memory dispute = Dispute({
            customerId: id,
            amount: rental.amount,
            splitId: _vodTitles[titleId].splitId,
            kind: DISPUTE_RENTAL,
            status: DISPUTE_OPEN,
            objectId: titleId
        });
        return _openDispute(keccak256(abi.encode(DISPUTE_RENTAL, rental.batchId, id, titleId)), dispute, rental.releaseDay);
    }

    /// @inheritdoc IBillingUsage
    function resolveDispute(uint64 disputeId, bool refund) external onlyRole(ARBITER_ROLE) {
        Dispute storage dispute = _disputes[disputeId];
        if (dispute.kind == 0) revert Billing_UnknownDispute(disputeId);
        if (dispute.status != DISPUTE_OPEN) revert Billing_DisputeAlreadyResolved(disputeId);
        uint256 amount = dispute.amount;
        uint32 id = dispute.customerId;
        // Effects: the frozen amount goes to exactly one side.
        dispute.status = refund ? DISPUTE_REFUNDED : DISPUTE_UPHELD;
        uint8 chargeStatus = refund ? CHARGE_REFUNDED : CHARGE_UPHELD;
        if (dispute.kind == DISPUTE_PPV) _ppvPurchases[dispute.objectId][id].status = chargeStatus;
        if (dispute.kind == DISPUTE_RENTAL) _rentals[id][dispute.objectId].status = chargeStatus;
        emit DisputeResolved(disputeId, refund, amount);
        if (refund) {
            _store(id, _creditAccount(_customers[id], _account(id), amount));
        } else {
            _creditSplit(dispute.splitId, amount);
        }
    }

    // =====================================================================================================
    // Internal
    // =====================================================================================================

    function _checkFresh(uint64 batchId, uint64 deadline) private view {
        if (block.timestamp > deadline) revert Billing_BatchExpired(batchId, deadline);
        if (_batchCommitments[batchId] != 0) revert Billing_BatchReplayed(batchId);
    }

    /// @dev At least `threshold` distinct current signers signed `structHash` in this contract's EIP-712
    /// domain. Signatures come sorted by signer, strictly ascending, so none counts twice. OpenZeppelin's
    /// ECDSA.recover rejects malleable (high-s) and non-65-byte (compact) signatures.
    function _verify(bytes32 structHash, bytes[] calldata signatures) private view {
        bytes32 digest = _hashTypedDataV4(structHash);
        uint256 needed = _threshold;
        if (needed == 0 || signatures.length < needed) revert Billing_NotEnoughSignatures(signatures.length, needed);
        address previous;
        for (uint256 i; i < signatures.length; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= previous) revert Billing_SignersOutOfOrder();
            if (!_signers[signer]) revert Billing_UnknownSigner(signer);
            previous = signer;
        }
    }

    function _openDispute(bytes32 key, Dispute memory dispute, uint32 releaseDay) private returns (uint64 disputeId) {
        if (_disputeOf[key] != 0) revert Billing_AlreadyDisputed(key);
        uint256 closedAt = uint256(releaseDay) * BillingMath.DAY;
        if (block.timestamp >= closedAt) revert Billing_DisputeWindowClosed(closedAt);
        // Effects: the amount leaves the escrow bucket, so no release can pay it out, and waits for the arbiter.
        _escrow[dispute.splitId][releaseDay] -= dispute.amount;
        disputeId = ++_disputeCount;
        _disputeOf[key] = disputeId;
        _disputeRefs[disputeId] = key;
        _disputes[disputeId] = dispute;
        emit DisputeOpened(disputeId, msg.sender, dispute.kind, key, dispute.amount, dispute.splitId, releaseDay);
    }

    function _usageCommitment(bytes32 linesDigest, UsageSettlement memory s, bytes32 declinedDigest)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(linesDigest, s.meterId, s.unitPrice, s.unitScale, s.splitId, s.releaseDay, declinedDigest)
        );
    }

    function _capEpoch() private view returns (uint256) {
        return (block.timestamp / _capPeriod) & 0xffff;
    }

    /// @dev Token units to cap units, rounded down (a cap allows at most what it says).
    function _capUnits(uint256 amount) private view returns (uint256) {
        return amount / _capUnit;
    }
}
