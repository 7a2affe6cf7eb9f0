using System;

namespace Omr
{
    /// <summary>How much the server said about its software (a banner or a reply text is a claim: it can be changed or forged).</summary>
    public enum SoftwareConfidence
    {
        /// <summary>Nothing the server sent names or betrays a known product.</summary>
        Unknown,
        /// <summary>The product is not named, but reply texts or EHLO lines are that product's own wording.</summary>
        Inferred,
        /// <summary>The greeting or EHLO reply names the product, without a version.</summary>
        Product,
        /// <summary>The greeting or EHLO reply names the product and its version.</summary>
        Version,
    }

    /// <summary>The mail server software a result's replies point to, and what that rests on.</summary>
    public sealed class RelaySoftware
    {
        /// <summary>The product ("Postfix", "Exim", "Microsoft Exchange"...), or "Unknown".</summary>
        public string Product { get; set; } = UnknownProduct;
        /// <summary>The version the server disclosed, or null.</summary>
        public string? Version { get; set; }
        public SoftwareConfidence Confidence { get; set; }
        /// <summary>What the identification rests on: the text seen and whose wording it is.</summary>
        public string Evidence { get; set; } = string.Empty;

        /// <summary>The product name used when nothing was recognised.</summary>
        public const string UnknownProduct = "Unknown";

        /// <summary>True when a product was recognised.</summary>
        public bool IsKnown => Confidence != SoftwareConfidence.Unknown && !string.Equals(Product, UnknownProduct, StringComparison.OrdinalIgnoreCase);

        /// <summary>"Postfix", "Exim 4.96", "Unknown".</summary>
        public override string ToString() => string.IsNullOrEmpty(Version) ? Product : Product + " " + Version;
    }
}
