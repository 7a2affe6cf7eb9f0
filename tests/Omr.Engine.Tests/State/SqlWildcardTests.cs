using Microsoft.Data.Sqlite;
using Omr.Engine.Rules;
using Omr.Engine.State;
using Xunit;

namespace Omr.Engine.Tests.State;

/// <summary>
/// Get-RelayHistory filters in SQL (LIKE) and the engine's rules filter with <see cref="Wildcard"/>: one pattern
/// language, so the two must agree on every pattern — checked against SQLite itself.
/// </summary>
public sealed class SqlWildcardTests
{
    [Theory]
    [InlineData("*.filter.example.net", "mx1.filter.example.net")]
    [InlineData("*.filter.example.net", "filter.example.net")]
    [InlineData("MX?.Filter.Example.NET", "mx1.filter.example.net")]
    [InlineData("mx?.example.net", "mx10.example.net")]
    [InlineData("example.com", "EXAMPLE.COM")]
    [InlineData("example.com", "example.comx")]
    [InlineData("*example*", "mail.example.org")]
    [InlineData("100%.example", "100%.example")]
    [InlineData("100%.example", "100x.example")]
    [InlineData("a_b.example", "a_b.example")]
    [InlineData("a_b.example", "axb.example")]
    [InlineData("back\\slash", "back\\slash")]
    [InlineData("*", "anything")]
    [InlineData("?", "ab")]
    public void The_SQL_filter_matches_exactly_what_the_wildcard_rule_matches(string pattern, string value)
    {
        using var c = new SqliteConnection("Data Source=:memory:");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT $v LIKE $p ESCAPE '\\'";
        cmd.Parameters.AddWithValue("$v", value);
        cmd.Parameters.AddWithValue("$p", Sql.LikePattern(pattern));
        var sql = (long)cmd.ExecuteScalar()! == 1;
        Assert.Equal(Wildcard.IsMatch(pattern, value), sql);
    }
}
