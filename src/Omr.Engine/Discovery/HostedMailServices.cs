using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Text;
using Omr.Engine.Rules;

namespace Omr.Engine.Discovery
{
    /// <summary>
    /// The shipped list of large hosted mail services (-ExcludeHosted): ExcludeHosted.txt, embedded in the engine,
    /// each entry with whose it is and the file's opening comment saying why testing them is pointless.
    /// </summary>
    public static class HostedMailServices
    {
        private const string ResourceName = "Omr.Engine.Discovery.ExcludeHosted.txt";
        private static readonly Lazy<string> LazyText = new Lazy<string>(Load);
        private static readonly Lazy<IReadOnlyList<ExclusionEntry>> LazyEntries =
            new Lazy<IReadOnlyList<ExclusionEntry>>(() => ExclusionRules.ParseHosted(LazyText.Value));

        /// <summary>The list as shipped (comments included).</summary>
        public static string Text => LazyText.Value;

        /// <summary>The list's entries, parsed once; each entry's Owner names the service.</summary>
        public static IReadOnlyList<ExclusionEntry> Entries => LazyEntries.Value;

        private static string Load()
        {
            using var stream = typeof(HostedMailServices).GetTypeInfo().Assembly.GetManifestResourceStream(ResourceName)
                ?? throw new InvalidOperationException("The module is incomplete: the list of hosted mail services (" + ResourceName + ") is missing from Omr.Engine.dll.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }
}
