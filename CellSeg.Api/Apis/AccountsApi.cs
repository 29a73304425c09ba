using CellSeg.Data.Model;

namespace CellSeg.Api.Apis;

public static class AccountsApi
{
    /// <summary>ASP.NET Core Identity's own endpoints: register, login (bearer token), refresh, and the rest.</summary>
    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/auth").WithTags("Accounts").MapIdentityApi<CellSegUser>();
        return app;
    }
}
