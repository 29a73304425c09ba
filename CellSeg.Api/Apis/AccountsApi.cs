using CellSeg.Data.Model;

namespace CellSeg.Api.Apis;

public static class AccountsApi
{
    /// <summary>
    /// Identity's endpoints come without names or summaries; the OpenAPI document gets them from here, keyed by
    /// method and route. Confirming an email keeps the name Identity gives it, since the link it mails is built from it.
    /// </summary>
    private static readonly Dictionary<(string Method, string Route), (string? Name, string Summary)> s_descriptions = new()
    {
        [("POST", "/register")] = ("Register", "Creates an account from an email and a password of at least 8 characters."),
        [("POST", "/login")] = ("Login", "Signs in: a bearer and a refresh token, or a cookie with ?useCookies=true."),
        [("POST", "/refresh")] = ("RefreshToken", "Exchanges a refresh token for a new bearer token."),
        [("GET", "/confirmEmail")] = (null, "Confirms an email address from the link mailed to it."),
        [("POST", "/resendConfirmationEmail")] = ("ResendConfirmationEmail", "Mails the confirmation link again."),
        [("POST", "/forgotPassword")] = ("ForgotPassword", "Mails a password reset code to a confirmed address."),
        [("POST", "/resetPassword")] = ("ResetPassword", "Sets a new password with a reset code."),
        [("POST", "/manage/2fa")] = ("ManageTwoFactor", "Reads or changes the caller's two-factor authentication."),
        [("GET", "/manage/info")] = ("GetAccountInfo", "The caller's email and whether it is confirmed."),
        [("POST", "/manage/info")] = ("UpdateAccountInfo", "Changes the caller's email or password."),
    };

    /// <summary>ASP.NET Core Identity's own endpoints: register, login (bearer token), refresh, and the rest.</summary>
    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        const string prefix = "/api/auth";
        app.MapGroup(prefix).WithTags("Accounts").MapIdentityApi<CellSegUser>().Add(endpoint =>
        {
            var route = ((RouteEndpointBuilder)endpoint).RoutePattern.RawText![prefix.Length..];
            foreach (var method in endpoint.Metadata.OfType<IHttpMethodMetadata>().SelectMany(m => m.HttpMethods).ToList())
            {
                if (s_descriptions.TryGetValue((method, route), out var description))
                {
                    if (description.Name is { } name)
                    {
                        endpoint.Metadata.Add(new EndpointNameMetadata(name));
                    }

                    endpoint.Metadata.Add(new EndpointSummaryAttribute(description.Summary));
                }
            }
        });
        return app;
    }
}
