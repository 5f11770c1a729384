//! Streams over every page of a list operation, and how each list operation pages.

use std::collections::{HashSet, VecDeque};

use clerk_core::users::{
    GetInstanceOrganizationMemberships, GetOrganizationInvitations, GetOrganizationMemberships,
    ListUsers,
};
use clerk_core::{
    ClerkRequest, ClerkResponse, Error, Operation, OrganizationInvitation, OrganizationInvitations,
    OrganizationMembership, OrganizationMemberships, User,
};
use futures_core::Stream;
use futures_util::stream;
use tower::Service;

use crate::Clerk;

/// Where the next page starts.
#[derive(Clone, Debug)]
pub(crate) enum PageStart {
    /// Skip this many items.
    Offset(u64),
    /// Continue after the item with this id (`starting_after`).
    After(String),
}

/// A list operation that can be paged.
pub(crate) trait Paged: Operation + Clone + Send + Sync + 'static {
    /// One item of a page.
    type Item: Send + 'static;

    /// The items of one page.
    fn into_items(output: Self::Output) -> Vec<Self::Item>;
    /// The id of an item, to detect a page the server sent twice and to continue after it.
    fn item_id(item: &Self::Item) -> &str;
    /// The page size asked for.
    fn page_size(&self) -> u64;
    /// The offset the caller asked to start at.
    fn first_offset(&self) -> u64;
    /// The total the server reported, when the response carries one.
    fn total(output: &Self::Output) -> Option<u64>;
    /// Whether pages can be chained with a cursor (`starting_after`), which stays
    /// correct when users are created or deleted while the stream runs.
    fn supports_cursor(&self) -> bool;
    /// The same request for the page starting at `start`.
    fn at(&self, start: &PageStart) -> Self;
}

struct State<S, P: Paged> {
    clerk: Clerk<S>,
    request: P,
    /// Where the next page starts; `None` once the last page is in.
    next: Option<PageStart>,
    /// Whether the first page (sent as the caller built it) has been fetched.
    started: bool,
    buffer: VecDeque<P::Item>,
    seen_first_ids: HashSet<String>,
}

/// Every item of every page, in order: keeps the request's filters on every page,
/// follows the cursor when the request can, else the offset; stops on a short
/// page, and stops with an error when the server sends a page it already sent.
/// An error (after the stack's own retries) is yielded and ends the stream.
pub(crate) fn all_pages<S, P>(
    clerk: Clerk<S>,
    request: P,
) -> impl Stream<Item = Result<P::Item, Error>> + Send + 'static
where
    S: Service<ClerkRequest, Response = ClerkResponse, Error = Error>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
    P: Paged,
    P::Output: Send,
{
    let state = State {
        clerk,
        next: Some(PageStart::Offset(request.first_offset())),
        request,
        started: false,
        buffer: VecDeque::new(),
        seen_first_ids: HashSet::new(),
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.buffer.pop_front() {
                return Some((Ok(item), state));
            }
            let start = state.next.take()?;
            let page_request = if state.started {
                state.request.at(&start)
            } else {
                state.request.clone()
            };
            state.started = true;
            let (items, total) = match state.clerk.execute(page_request).await {
                Ok(output) => {
                    let total = P::total(&output);
                    (P::into_items(output), total)
                }
                Err(err) => return Some((Err(err), state)),
            };
            let page_size = state.request.page_size();
            if let Some(first) = items.first()
                && !state.seen_first_ids.insert(P::item_id(first).to_owned())
            {
                let err = Error::decode(
                    "the server returned a page it had already returned; stopping instead of looping",
                    &[],
                );
                return Some((Err(err), state));
            }
            let full_page = page_size > 0 && items.len() as u64 >= page_size;
            let next_offset = match start {
                PageStart::Offset(offset) => offset + items.len() as u64,
                PageStart::After(_) => 0,
            };
            let more = full_page && total.is_none_or(|total| next_offset < total);
            if more {
                state.next = match items.last() {
                    Some(last) if state.request.supports_cursor() => {
                        Some(PageStart::After(P::item_id(last).to_owned()))
                    }
                    _ => Some(PageStart::Offset(next_offset)),
                };
            }
            state.buffer.extend(items);
        }
    })
}

// How each list operation pages: `ListUsers` by cursor when its order allows,
// the others by offset with the total the server reports.

impl Paged for ListUsers {
    type Item = User;

    fn into_items(output: Vec<User>) -> Vec<User> {
        output
    }

    fn item_id(item: &User) -> &str {
        &item.id
    }

    fn page_size(&self) -> u64 {
        u64::from(self.get_limit())
    }

    fn first_offset(&self) -> u64 {
        self.get_offset()
    }

    fn total(_: &Vec<User>) -> Option<u64> {
        None
    }

    fn supports_cursor(&self) -> bool {
        self.uses_created_at_order()
    }

    fn at(&self, start: &PageStart) -> Self {
        match start {
            PageStart::Offset(offset) => self.clone().offset(*offset),
            PageStart::After(id) => self.clone().offset(0).starting_after(id.clone()),
        }
    }
}

macro_rules! offset_paged {
    ($request:ty, $output:ty, $item:ty) => {
        impl Paged for $request {
            type Item = $item;

            fn into_items(output: $output) -> Vec<$item> {
                output.data
            }

            fn item_id(item: &$item) -> &str {
                &item.id
            }

            fn page_size(&self) -> u64 {
                u64::from(self.get_limit())
            }

            fn first_offset(&self) -> u64 {
                self.get_offset()
            }

            fn total(output: &$output) -> Option<u64> {
                u64::try_from(output.total_count).ok()
            }

            fn supports_cursor(&self) -> bool {
                false
            }

            fn at(&self, start: &PageStart) -> Self {
                match start {
                    PageStart::Offset(offset) => self.clone().offset(*offset),
                    // Offset paging never produces a cursor.
                    PageStart::After(_) => self.clone(),
                }
            }
        }
    };
}

offset_paged!(
    GetOrganizationMemberships,
    OrganizationMemberships,
    OrganizationMembership
);
offset_paged!(
    GetOrganizationInvitations,
    OrganizationInvitations,
    OrganizationInvitation
);
offset_paged!(
    GetInstanceOrganizationMemberships,
    OrganizationMemberships,
    OrganizationMembership
);
