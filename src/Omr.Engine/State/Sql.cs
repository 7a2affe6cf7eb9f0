using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Omr.Engine.State
{
    /// <summary>Commands with named parameters, and rows read by column name.</summary>
    internal static class Sql
    {
        public static void Exec(SqliteConnection conn, string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
        {
            using (var cmd = Command(conn, sql, tx, args)) cmd.ExecuteNonQuery();
        }

        public static int Count(SqliteConnection conn, string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
        {
            using (var cmd = Command(conn, sql, tx, args)) return cmd.ExecuteNonQuery();
        }

        public static object? Scalar(SqliteConnection conn, string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
        {
            using (var cmd = Command(conn, sql, tx, args))
            {
                var v = cmd.ExecuteScalar();
                return v is DBNull ? null : v;
            }
        }

        public static long LastId(SqliteConnection conn, SqliteTransaction tx)
            => Convert.ToInt64(Scalar(conn, "SELECT last_insert_rowid();", tx), CultureInfo.InvariantCulture);

        /// <summary>Every row of the query, mapped by <paramref name="map"/>.</summary>
        public static List<T> Query<T>(SqliteConnection conn, string sql, SqliteTransaction? tx, IEnumerable<(string Name, object? Value)> args, Func<Row, T> map)
        {
            var list = new List<T>();
            using (var cmd = Command(conn, sql, tx, args.ToArray()))
            using (var rd = cmd.ExecuteReader())
            {
                var row = new Row(rd);
                while (rd.Read()) list.Add(map(row));
            }
            return list;
        }

        private static SqliteCommand Command(SqliteConnection conn, string sql, SqliteTransaction? tx, (string Name, object? Value)[] args)
        {
            var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            cmd.Transaction = tx;
            foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
            return cmd;
        }

        /// <summary>
        /// A PowerShell-style wildcard (* and ?) as a LIKE pattern with '\' as its escape character; the
        /// literal % and _ of the value are escaped. LIKE compares ASCII letters without regard to case.
        /// </summary>
        public static string LikePattern(string wildcard)
        {
            var sb = new StringBuilder(wildcard.Length + 4);
            foreach (var c in wildcard.Trim().TrimEnd('.'))
            {
                switch (c)
                {
                    case '*': sb.Append('%'); break;
                    case '?': sb.Append('_'); break;
                    case '%': case '_': case '\\': sb.Append('\\').Append(c); break;
                    default: sb.Append(c); break;
                }
            }
            return sb.ToString();
        }

        /// <summary>
        /// "(column LIKE $p0 ESCAPE '\' OR ...)" for a list of wildcards over one or more columns (trailing dots
        /// ignored on both sides), adding the parameters to <paramref name="args"/>; null for an empty list.
        /// </summary>
        public static string? AnyLike(IReadOnlyList<string>? patterns, IReadOnlyList<string> columns, string prefix, List<(string, object?)> args, Func<string, string>? normal = null)
        {
            if (patterns is null || patterns.Count == 0) return null;
            var terms = new List<string>();
            for (var i = 0; i < patterns.Count; i++)
            {
                var name = "$" + prefix + i.ToString(CultureInfo.InvariantCulture);
                args.Add((name, LikePattern(normal is null ? patterns[i] : normal(patterns[i]))));
                // An empty column (a host tested without a domain) matches no pattern, "*" included.
                terms.AddRange(columns.Select(c => $"(coalesce({c}, '') <> '' AND rtrim({c}, '.') LIKE {name} ESCAPE '\\')"));
            }
            return "(" + string.Join(" OR ", terms) + ")";
        }

        /// <summary>"column IN ($p0, $p1, ...)" for a list of values, adding the parameters; null for an empty list.</summary>
        public static string? In<T>(IReadOnlyList<T>? values, string column, string prefix, List<(string, object?)> args)
        {
            if (values is null || values.Count == 0) return null;
            var names = new List<string>();
            for (var i = 0; i < values.Count; i++)
            {
                var name = "$" + prefix + i.ToString(CultureInfo.InvariantCulture);
                args.Add((name, Convert.ToString(values[i], CultureInfo.InvariantCulture)));
                names.Add(name);
            }
            return column + " IN (" + string.Join(", ", names) + ")";
        }
    }

    /// <summary>The current row of a reader, read by column name (never by position).</summary>
    internal sealed class Row
    {
        private readonly SqliteDataReader _reader;
        // Column name -> position, read once per query: the reader's own GetOrdinal asks SQLite for the
        // name of each column in turn, on every call, which cost more than the query itself at 10,000 rows.
        private Dictionary<string, int>? _ordinals;

        public Row(SqliteDataReader reader) { _reader = reader; }

        private Dictionary<string, int> Ordinals()
        {
            if (_ordinals != null) return _ordinals;
            var map = new Dictionary<string, int>(_reader.FieldCount, StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < _reader.FieldCount; i++)
            {
                var name = _reader.GetName(i);
                if (!map.ContainsKey(name)) map.Add(name, i); // the first of two same-named columns, as GetOrdinal
            }
            return _ordinals = map;
        }

        private int At(string column)
            => Ordinals().TryGetValue(column, out var i) ? i : throw new IndexOutOfRangeException("no column '" + column + "' in this query");

        public bool IsNull(string column) => _reader.IsDBNull(At(column));

        /// <summary>A text column that an older schema version may not have (read as it is, read-only): null when absent.</summary>
        public string? Optional(string column)
            => Ordinals().TryGetValue(column, out var i) && !_reader.IsDBNull(i) ? _reader.GetString(i) : null;

        public string? Str(string column)
        {
            var i = At(column);
            return _reader.IsDBNull(i) ? null : _reader.GetString(i);
        }

        /// <summary>A NOT NULL text column; the empty string reads as null (the key columns store "" for none).</summary>
        public string? Key(string column) => Str(column) is string s && s.Length > 0 ? s : null;

        public long Long(string column) => _reader.GetInt64(At(column));

        public int Int(string column) => _reader.GetInt32(At(column));

        public double Double(string column)
        {
            var i = At(column);
            return _reader.IsDBNull(i) ? 0 : _reader.GetDouble(i);
        }

        public bool? Bool(string column)
        {
            var i = At(column);
            return _reader.IsDBNull(i) ? (bool?)null : _reader.GetInt64(i) != 0;
        }

        public DateTimeOffset? Time(string column) => StateValues.Time(Str(column));

        public T Enum<T>(string column, T fallback) where T : struct => StateValues.Enum(Str(column), fallback);

        public T? EnumOrNull<T>(string column, T fallback) where T : struct => IsNull(column) ? (T?)null : StateValues.Enum(Str(column), fallback);

        public string[] List(string column) => StateValues.Split(Str(column));
    }

    /// <summary>How values are stored: times as ISO 8601 UTC text, lists as comma-separated text, enums by name.</summary>
    public static class StateValues
    {
        private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

        public static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture);

        public static DateTimeOffset? Time(string? s)
            => s != null && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : (DateTimeOffset?)null;

        public static string? Join(IEnumerable<string>? items)
        {
            var list = (items ?? Enumerable.Empty<string>()).Where(s => !string.IsNullOrWhiteSpace(s)).ToList();
            return list.Count == 0 ? null : string.Join(",", list);
        }

        public static string[] Split(string? s) => s is null || s.Length == 0 ? Array.Empty<string>() : s.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries);

        public static T Enum<T>(string? s, T fallback) where T : struct => s != null && System.Enum.TryParse<T>(s, true, out var e) ? e : fallback;

        /// <summary>A result's blocklist listings as stored (a JSON array of {zone, codes, text, checkedAt}); null when there are none.</summary>
        public static string? Listings(IReadOnlyCollection<BlocklistListing>? listings)
        {
            if (listings is null || listings.Count == 0) return null;
            return JsonFiles.WriteCompact(j =>
            {
                j.WriteStartArray();
                foreach (var l in listings)
                {
                    j.WriteStartObject();
                    j.WriteString("zone", l.Zone);
                    j.WriteStartArray("codes");
                    foreach (var c in l.Codes ?? Array.Empty<string>()) j.WriteStringValue(c);
                    j.WriteEndArray();
                    if (l.Text is null) j.WriteNull("text"); else j.WriteString("text", l.Text);
                    j.WriteString("checkedAt", Iso(l.CheckedAt));
                    j.WriteEndObject();
                }
                j.WriteEndArray();
            });
        }

        /// <summary>The listings read back; a value that is not what <see cref="Listings(IReadOnlyCollection{BlocklistListing})"/> wrote reads as none.</summary>
        public static BlocklistListing[] Listings(string? json)
        {
            if (string.IsNullOrWhiteSpace(json)) return Array.Empty<BlocklistListing>();
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(json!);
                if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Array) return Array.Empty<BlocklistListing>();
                var list = new List<BlocklistListing>();
                foreach (var e in doc.RootElement.EnumerateArray())
                {
                    var zone = e.Str("zone");
                    if (zone is null) continue;
                    var codes = e.TryGetProperty("codes", out var c) && c.ValueKind == System.Text.Json.JsonValueKind.Array
                        ? c.EnumerateArray().Where(x => x.ValueKind == System.Text.Json.JsonValueKind.String).Select(x => x.GetString()!).ToArray() : Array.Empty<string>();
                    list.Add(new BlocklistListing
                    {
                        Zone = zone,
                        Codes = codes,
                        Text = e.Str("text"),
                        CheckedAt = Time(e.Str("checkedAt")) ?? default,
                    });
                }
                return list.ToArray();
            }
            catch (System.Text.Json.JsonException)
            {
                return Array.Empty<BlocklistListing>();
            }
        }

        /// <summary>A result's software as stored (a JSON object {product, version, confidence, evidence}); null when it has none.</summary>
        public static string? Software(RelaySoftware? software)
        {
            if (software is null) return null;
            return JsonFiles.WriteCompact(j =>
            {
                j.WriteStartObject();
                j.WriteString("product", software.Product);
                if (software.Version is null) j.WriteNull("version"); else j.WriteString("version", software.Version);
                j.WriteString("confidence", software.Confidence.ToString());
                j.WriteString("evidence", software.Evidence);
                j.WriteEndObject();
            });
        }

        /// <summary>
        /// The software read back: null when none was stored (a result of an earlier version); a value that is not what
        /// <see cref="Software(RelaySoftware)"/> wrote (not JSON, no product, an unknown confidence) reads as Unknown.
        /// </summary>
        public static RelaySoftware? Software(string? json)
        {
            if (string.IsNullOrWhiteSpace(json)) return null;
            var unknown = new RelaySoftware { Product = RelaySoftware.UnknownProduct, Confidence = SoftwareConfidence.Unknown };
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(json!);
                var e = doc.RootElement;
                if (e.ValueKind != System.Text.Json.JsonValueKind.Object) return unknown;
                var product = e.Str("product");
                var name = e.Str("confidence");
                // By name, as written: Enum.TryParse would also take "7", a confidence no rule gives.
                var confidence = name != null && System.Enum.GetNames(typeof(SoftwareConfidence)).Contains(name, StringComparer.Ordinal)
                    ? StateValues.Enum(name, SoftwareConfidence.Unknown) : SoftwareConfidence.Unknown;
                if (string.IsNullOrWhiteSpace(product) || confidence == SoftwareConfidence.Unknown)
                {
                    unknown.Evidence = e.Str("evidence") ?? string.Empty;
                    return unknown;
                }
                return new RelaySoftware { Product = product!.Trim(), Version = e.Str("version"), Confidence = confidence, Evidence = e.Str("evidence") ?? string.Empty };
            }
            catch (System.Text.Json.JsonException)
            {
                return unknown;
            }
        }

        /// <summary>How a key's address is stored (lower case, trimmed).</summary>
        public static string Address(string? a) => (a ?? string.Empty).Trim().ToLowerInvariant();
    }
}
