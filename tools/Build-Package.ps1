#Requires -Version 7.2

<#
.SYNOPSIS
The Package task: zips the built module (out/Omr) into out/Omr-<version>.zip and publishes it as a
NuGet package that PSResourceGet installs, to the file feed out/packages.
#>
[CmdletBinding()]
param()

. (Join-Path $PSScriptRoot 'Common.ps1')

$version = Get-ModuleVersion
$zip = Join-Path $Out "Omr-$version.zip"
Remove-Item -LiteralPath $zip -ErrorAction SilentlyContinue
Write-Step "Package $zip"
Compress-Archive -Path (Join-Path $ModuleOut '*') -DestinationPath $zip
Write-Host "   $zip ($([math]::Round((Get-Item -LiteralPath $zip).Length / 1KB)) KiB)"

# A NuGet package that PSResourceGet (shipped with PowerShell 7.4+) installs: publish to a
# file repository under out/packages, registered only for this call.
$feed = Join-Path $Out 'packages'
New-Item -ItemType Directory -Force -Path $feed | Out-Null
Get-ChildItem -LiteralPath $feed -Filter "Omr.$version.nupkg" | Remove-Item -Force
$repoName = 'OmrBuild-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
Register-PSResourceRepository -Name $repoName -Uri $feed -Trusted
try {
    Publish-PSResource -Path $ModuleOut -Repository $repoName
}
finally {
    Unregister-PSResourceRepository -Name $repoName
}
$nupkg = Join-Path $feed "Omr.$version.nupkg"
if (-not (Test-Path -LiteralPath $nupkg)) { throw "Publish-PSResource did not produce $nupkg." }
Write-Host "   $nupkg (install: Register-PSResourceRepository -Name Omr -Uri $feed; Install-PSResource Omr -Repository Omr)"
