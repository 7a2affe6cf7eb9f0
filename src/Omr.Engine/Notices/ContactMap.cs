using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace Omr.Engine.Notices
{
    /// <summary>A map of domain (or host) → the operator's known contact addresses for it.</summary>
    public sealed class ContactMap
    {
        private readonly Dictionary<string, List<string>> _map = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);

        public int Count => _map.Count;

        public IEnumerable<string> Keys => _map.Keys;

        /// <summary>Adds addresses for a domain; a value may hold several separated by ',' or ';'. Throws FormatException on a bad address.</summary>
        public void Add(string domain, IEnumerable<string?> addresses)
        {
            var key = (domain ?? string.Empty).Trim().TrimEnd('.');
            if (key.Length == 0) throw new FormatException("A contact map entry has an empty domain.");
            if (!_map.TryGetValue(key, out var list)) _map[key] = list = new List<string>();
            foreach (var raw in addresses)
            {
                foreach (var part in (raw ?? string.Empty).Split(new[] { ',', ';' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    var a = part.Trim();
                    if (a.Length == 0) continue;
                    if (!MailAddressRules.IsMailbox(a)) throw new FormatException($"The contact map address '{a}' for '{key}' is not a mailbox of the form user@domain.");
                    if (!list.Contains(a, StringComparer.OrdinalIgnoreCase)) list.Add(a);
                }
            }
        }

        /// <summary>The addresses for a domain or host (exact match, case-insensitive); empty when none.</summary>
        public IReadOnlyList<string> Get(string? domain)
        {
            if (domain is null) return Array.Empty<string>();
            return _map.TryGetValue(domain.Trim().TrimEnd('.'), out var list) ? list : (IReadOnlyList<string>)Array.Empty<string>();
        }

        /// <summary>
        /// Reads a CSV with a header row and columns Domain and Address (or Addresses; several addresses
        /// separated by ';' or ','). Quoted fields ("a,b") are understood. Throws FormatException.
        /// </summary>
        public static ContactMap LoadCsv(string path)
        {
            var text = File.ReadAllText(path, Encoding.UTF8);
            return ParseCsv(text, path);
        }

        public static ContactMap ParseCsv(string text, string name = "CSV")
        {
            var rows = ReadRows(text ?? string.Empty).Where(r => r.Count > 0 && !(r.Count == 1 && r[0].Trim().Length == 0)).ToList();
            if (rows.Count == 0) throw new FormatException($"{name} is empty: expected a header row 'Domain,Address'.");
            var header = rows[0].Select(h => h.Trim().TrimStart('\ufeff')).ToList();
            var d = header.FindIndex(h => h.Equals("Domain", StringComparison.OrdinalIgnoreCase));
            var a = header.FindIndex(h => h.Equals("Address", StringComparison.OrdinalIgnoreCase) || h.Equals("Addresses", StringComparison.OrdinalIgnoreCase));
            if (d < 0 || a < 0) throw new FormatException($"{name} needs the columns Domain and Address (or Addresses); it has {string.Join(", ", header)}.");
            var map = new ContactMap();
            for (var i = 1; i < rows.Count; i++)
            {
                var r = rows[i];
                var domain = d < r.Count ? r[d] : string.Empty;
                var address = a < r.Count ? r[a] : string.Empty;
                if (domain.Trim().Length == 0) throw new FormatException($"{name} row {i + 1}: the Domain is empty.");
                map.Add(domain, new[] { address });
            }
            return map;
        }

        private static IEnumerable<List<string>> ReadRows(string text)
        {
            var row = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (quoted)
                {
                    if (c == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                        else quoted = false;
                    }
                    else field.Append(c);
                    continue;
                }
                switch (c)
                {
                    case '"': quoted = true; break;
                    case ',': row.Add(field.ToString()); field.Clear(); break;
                    case '\r': break;
                    case '\n':
                        row.Add(field.ToString()); field.Clear();
                        yield return row;
                        row = new List<string>();
                        break;
                    default: field.Append(c); break;
                }
            }
            if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); yield return row; }
        }
    }
}
