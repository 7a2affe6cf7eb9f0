#Requires -Version 7.2
<#
.SYNOPSIS
Refreshes the IANA RDAP bootstrap registries for IP addresses that ship with the module.

.DESCRIPTION
Downloads ipv4.json and ipv6.json from IANA (https://data.iana.org/rdap/, RFC 7484) - or reads them
from -SourcePath, a folder holding copies taken on another machine - checks that each is an RDAP
bootstrap file for its address family (a "services" array of [networks, base URLs] that names
networks, a "publication" date no older than the one shipped, unless -Force) and writes it byte for
byte into src/Omr.Engine/Discovery/Rdap/. Prints each file's publication date; commit the files with
those dates in the message. Run by 'build.ps1 RdapBootstrap'; the module never downloads them at run time.
#>
[CmdletBinding()]
param(
    [uri] $BaseUri = 'https://data.iana.org/rdap/',
    [string] $SourcePath,
    [string] $Destination = (Join-Path $PSScriptRoot '../src/Omr.Engine/Discovery/Rdap'),
    [switch] $Force
)
$ErrorActionPreference = 'Stop'

function Test-Bootstrap([string] $Text, [string] $Family, [string] $Source) {
    try { $json = $Text | ConvertFrom-Json -Depth 10 -NoEnumerate }
    catch { throw "$Source is not JSON: $($_.Exception.Message)" }
    if ($json -isnot [pscustomobject] -or $json.description -notmatch "RDAP bootstrap file for $Family address allocations") {
        throw "$Source is not IANA's RDAP bootstrap file for $Family (its description is '$($json.description)')."
    }
    $networks = @($json.services | ForEach-Object { @($_[0]) } | Where-Object { $_ -match '/\d+$' })
    $urls = @($json.services | ForEach-Object { @($_[1]) } | Where-Object { $_ -match '^https://' })
    if ($networks.Count -lt 2 -or $urls.Count -lt 1) { throw "$Source names no networks or no https registry: not a bootstrap file to ship." }
    [datetimeoffset] $published = [datetimeoffset]::MinValue
    if (-not [datetimeoffset]::TryParse([string]$json.publication, [cultureinfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::AssumeUniversal, [ref] $published)) {
        throw "$Source has no publication date."
    }
    [pscustomobject]@{ Publication = $published; Networks = $networks.Count }
}

foreach ($pair in @(@('ipv4.json', 'IPv4'), @('ipv6.json', 'IPv6'))) {
    $name, $family = $pair
    if ($SourcePath) {
        $from = Join-Path $SourcePath $name
        $text = [System.IO.File]::ReadAllText($from)
    }
    else {
        if ($BaseUri.Scheme -ne 'https') { throw "-BaseUri must be https: $BaseUri" }
        $from = [uri]::new($BaseUri, $name)
        $text = (Invoke-WebRequest -Uri $from -UseBasicParsing -TimeoutSec 60).Content
        if ($text -is [byte[]]) { $text = [System.Text.Encoding]::UTF8.GetString($text) }
    }
    $new = Test-Bootstrap $text $family $from
    $target = Join-Path $Destination $name
    if ((Test-Path -LiteralPath $target) -and -not $Force) {
        $old = Test-Bootstrap ([System.IO.File]::ReadAllText($target)) $family $target
        if ($new.Publication -lt $old.Publication) {
            throw "$from was published $($new.Publication.ToString('u')), before the shipped copy ($($old.Publication.ToString('u'))): not replaced (use -Force)."
        }
    }
    [System.IO.File]::WriteAllText($target, $text, [System.Text.UTF8Encoding]::new($false))
    Write-Host ("{0}: publication {1}, {2} networks, from {3}" -f $name, $new.Publication.ToString('yyyy-MM-ddTHH:mm:ssZ'), $new.Networks, $from)
}
