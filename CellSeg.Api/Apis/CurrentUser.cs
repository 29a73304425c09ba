using System.Security.Claims;

namespace CellSeg.Api.Apis;

internal static class CurrentUser
{
    public static Guid Id(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)
            ?? throw new InvalidOperationException("An authenticated user has a name identifier."));
}
