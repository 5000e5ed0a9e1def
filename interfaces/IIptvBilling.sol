// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBillingCatalogue} from "./IBillingCatalogue.sol";
import {IBillingCore} from "./IBillingCore.sol";
import {IBillingSubscriptions} from "./IBillingSubscriptions.sol";
import {IBillingUsage} from "./IBillingUsage.sol";
import {IBillingViews} from "./IBillingViews.sol";

/// @title IIptvBilling
/// @notice The customer-facing billing contract of an IPTV operator: prepaid stablecoin escrow, a catalogue
/// of channel-package plans, subscriptions that renew themselves through a permissionless keeper entry
/// point, entitlements for the streaming middleware, and revenue split to content providers by pull.
///
/// Customers deal with this one address for everything. Money never leaves it except to a customer
/// withdrawing their own balance or a provider withdrawing released earnings.
///
/// Escrow: every subscription charge is held in an escrow bucket keyed by the split that will receive it
/// and the day the paid period ends; anyone may release a bucket to the providers once that day starts.
/// Refunds (immediate cancellation, plan-change credit) come out of the same bucket, so a refund can never
/// spend money that was already paid out.
interface IIptvBilling is IBillingCore, IBillingSubscriptions, IBillingCatalogue, IBillingUsage, IBillingViews {}
