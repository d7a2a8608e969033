// Renders the account page.
function displayName(user) {
  // BUG: user.profile is undefined for guests
  return user.profile.name;
}

function render(user) {
  return "<h1>" + displayName(user) + "</h1>";
}

module.exports = { render, displayName };
